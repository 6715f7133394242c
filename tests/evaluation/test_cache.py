import json
import os

import numpy as np
import soundfile as sf

from cmkt.evaluation.score import pairs_from_folders, score_pairs
from cmkt.evaluation.cache import ScoreCache, pair_key


def _folders(tmp_path, speech_corpus):
    clean, rate = sf.read(speech_corpus.parent / "f_1.wav")
    noise = np.random.default_rng(0).standard_normal(len(clean))
    for name in ("ref", "est"):
        (tmp_path / name).mkdir()
    for stem, level in (("a", 0.01), ("b", 0.1)):
        sf.write(tmp_path / "ref" / f"{stem}.wav", clean, rate)
        sf.write(tmp_path / "est" / f"{stem}.wav", clean + level * noise, rate)
    return tmp_path / "ref", tmp_path / "est"


def _plant(cache_path, file, metric, value):
    """Overwrite one cached value: if it comes back, it was read from the cache and not recomputed."""
    stored = json.loads(cache_path.read_text())
    key = next(k for k in stored["entries"] if f"/est/{file}.wav:" in k)
    stored["entries"][key]["metrics"][metric] = value
    cache_path.write_text(json.dumps(stored))


def test_unchanged_files_reuse_their_scores_and_changed_ones_are_rescored(tmp_path, speech_corpus):
    ref, est = _folders(tmp_path, speech_corpus)
    cache_path = tmp_path / "score_cache.json"
    first = score_pairs(pairs_from_folders(ref, est), metrics=("stoi", "si_sdr"), cache=ScoreCache(cache_path))
    assert first.values("si_sdr")["a"] > first.values("si_sdr")["b"] + 15  # 20 dB less noise in a

    _plant(cache_path, "a", "si_sdr", -99.0)
    _plant(cache_path, "b", "si_sdr", -99.0)
    clean, rate = sf.read(ref / "b.wav")
    sf.write(est / "b.wav", clean, rate)  # b changes: now the clean signal itself
    os.utime(est / "b.wav", ns=(1, 1))  # a different modification time even on a coarse clock
    second = score_pairs(pairs_from_folders(ref, est), metrics=("stoi", "si_sdr"), cache=ScoreCache(cache_path))
    assert second.values("si_sdr")["a"] == -99.0  # unchanged: from the cache
    assert second.values("si_sdr")["b"] > 60  # changed: scored afresh
    assert second.values("stoi")["a"] == first.values("stoi")["a"]


def test_a_new_metric_is_computed_alone_and_errors_are_not_cached(tmp_path, speech_corpus):
    ref, est = _folders(tmp_path, speech_corpus)
    cache_path = tmp_path / "score_cache.json"
    score_pairs(pairs_from_folders(ref, est), metrics=("stoi",), cache=ScoreCache(cache_path))
    _plant(cache_path, "a", "stoi", 0.123)
    result = score_pairs(pairs_from_folders(ref, est), metrics=("stoi", "si_sdr"), cache=ScoreCache(cache_path))
    row = next(r for r in result.rows if r["file"] == "a")
    assert row["stoi"] == 0.123 and row["si_sdr"] > 15  # 0.01 noise on speech: about 20 dB

    (est / "b.wav").unlink()
    missing = score_pairs(pairs_from_folders(ref, est), metrics=("stoi",), cache=ScoreCache(cache_path))
    assert [r["file"] for r in missing.failed] == ["b"]
    assert all(e["metrics"] for e in ScoreCache(cache_path).entries.values())
    assert pair_key(ref / "b.wav", None, None) not in ScoreCache(cache_path).entries


def test_a_damaged_cache_file_is_ignored(tmp_path, speech_corpus):
    ref, est = _folders(tmp_path, speech_corpus)
    cache_path = tmp_path / "score_cache.json"
    cache_path.write_text("{not json")
    result = score_pairs(pairs_from_folders(ref, est), metrics=("si_sdr",), cache=ScoreCache(cache_path))
    assert len(result.ok) == 2 and json.loads(cache_path.read_text())["entries"]
