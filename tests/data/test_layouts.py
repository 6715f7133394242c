"""Corpus layouts on small trees built here in each corpus's own layout (real audio: tones)."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.data.layouts import detect_layout, load_corpus
from cmkt.data.manifest import read_manifest
from tests.conftest import tone


def _audio(path, seconds=1.0, rate=16000, freq=330.0, channels=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = tone(seconds, rate, freq)
    sf.write(path, np.stack([signal] * channels, 1) if channels > 1 else signal, rate)


@pytest.fixture
def librispeech(tmp_path):
    root = tmp_path / "LibriSpeech"
    for subset, speaker in (("train-clean-100", "19"), ("dev-clean", "84"), ("test-clean", "61")):
        folder = root / subset / speaker / "198"
        lines = []
        for index in range(2):
            utt = f"{speaker}-198-{index:04d}"
            _audio(folder / f"{utt}.flac", freq=200 + 30 * index)
            lines.append(f"{utt} HELLO WORLD NUMBER {index}")
        (folder / f"{speaker}-198.trans.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def aishell(tmp_path):
    root = tmp_path / "data_aishell"
    lines = []
    for split, speaker in (("train", "S0002"), ("dev", "S0724"), ("test", "S0764")):
        for index in range(2):
            utt = f"BAC009{speaker}W{index:04d}"
            _audio(root / "wav" / split / speaker / f"{utt}.wav", freq=250 + 20 * index)
            lines.append(f"{utt} 而 对 楼市 成交 抑制 作用 最 大")
    _audio(root / "wav" / "train" / "S0002" / "BAC009S0002W9999.wav")  # shipped without a transcript
    (root / "transcript").mkdir()
    (root / "transcript" / "aishell_transcript_v0.8.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def voicebank(tmp_path):
    root = tmp_path / "VoiceBank-DEMAND"
    rng = np.random.default_rng(0)
    for tag, speakers in (("trainset_28spk", ("p226", "p230")), ("testset", ("p232",))):
        for speaker in speakers:
            for index in range(2):
                name = f"{speaker}_{index + 1:03d}"
                clean = tone(1.0, 48000, 220 + 40 * index)
                sf.write(_mkdir(root / f"clean_{tag}_wav") / f"{name}.wav", clean, 48000)
                sf.write(
                    _mkdir(root / f"noisy_{tag}_wav") / f"{name}.wav", clean + 0.05 * rng.standard_normal(48000), 48000
                )
                (_mkdir(root / f"{tag}_txt") / f"{name}.txt").write_text(f"Please call Stella {index}.\n")
    return root


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_layouts_are_detected_and_read(librispeech, aishell, voicebank):
    assert [detect_layout(p) for p in (librispeech, aishell, voicebank)] == ["librispeech", "aishell", "voicebank"]
    libri = {item.id: item for item in load_corpus(librispeech)}
    assert libri["84-198-0001"].text == "Hello world number 1" and libri["84-198-0001"].split == "valid"
    assert libri["19-198-0000"].speaker == "19" and libri["61-198-0000"].split == "test"
    chinese = {item.id: item for item in load_corpus(aishell)}
    assert len(chinese) == 6 and chinese["BAC009S0724W0000"].split == "valid"  # the file without transcript is left out
    assert chinese["BAC009S0724W0000"].text == "而对楼市成交抑制作用最大" and chinese["BAC009S0724W0000"].lang == "zh"
    pairs = {item.id: item for item in load_corpus(voicebank)}
    assert (
        pairs["p226_001"].split == "valid" and pairs["p230_001"].split == "train" and pairs["p232_002"].split == "test"
    )
    assert pairs["p232_002"].noisy.name == "p232_002.wav" and pairs["p232_002"].text == "Please call Stella 1."


def test_voicebank_pairs_are_resampled_not_mixed_and_the_source_rate_is_recorded(voicebank, tmp_path):
    result = CliRunner().invoke(
        app, ["prep", "--speech", str(voicebank), "-o", str(tmp_path / "data"), "--teacher", "none"]
    )
    assert result.exit_code == 0, result.output
    test = read_manifest(tmp_path / "data" / "test.jsonl")
    assert len(test) == 2 and test[0].snr_db is None and test[0].extra == {"source_rate": 48000, "source_channels": 1}
    noisy, rate = sf.read(test[0].noisy)
    assert rate == 16000 and len(noisy) == 16000


def test_librispeech_prep_with_snr_range_gain_and_rooms(librispeech, noise_folder, tmp_path):
    rirs = tmp_path / "rirs"
    rirs.mkdir()
    decay = np.exp(-np.arange(4000) / 800.0) * np.random.default_rng(1).standard_normal(4000)
    decay[0] = 1.0
    sf.write(rirs / "room.wav", decay.astype(np.float32), 16000)
    args = [
        "prep",
        "--speech",
        str(librispeech),
        "--noise",
        str(noise_folder),
        "-o",
        str(tmp_path / "data"),
        "--teacher",
        "none",
        "--snr-range",
        "-5",
        "20",
        "--gain-db",
        "-6",
        "0",
        "--rir",
        str(rirs),
        "--rir-prob",
        "1.0",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 speakers, languages en" in result.output and (tmp_path / "data" / "snr_histogram.png").stat().st_size > 0
    utterances = [
        u for split in ("train", "valid", "test") for u in read_manifest(tmp_path / "data" / f"{split}.jsonl")
    ]
    snrs = [u.snr_db for u in utterances]
    assert all(-5 <= s <= 20 for s in snrs) and len(set(snrs)) == len(snrs)
    assert all(u.extra["rir"] == "room" and -6 <= u.extra.get("gain_db", 0) <= 0 for u in utterances)
    clean, _ = sf.read(utterances[0].clean)
    noisy, _ = sf.read(utterances[0].noisy)
    assert len(clean) == len(noisy) and np.abs(noisy).max() <= 1.0


def test_check_validates_and_writes_nothing(aishell, noise_folder, tmp_path):
    (aishell / "wav" / "train" / "S0002" / "BAC009S0002W0001.wav").write_bytes(b"broken")
    result = CliRunner().invoke(
        app, ["prep", "--speech", str(aishell), "--noise", str(noise_folder), "-o", str(tmp_path / "data"), "--check"]
    )
    assert (
        result.exit_code == 1
        and "BAC009S0002W0001.wav" in result.output
        and "checked, nothing written" in result.output
    )
    assert not (tmp_path / "data").exists()


def test_shards_then_merge_equal_one_run(librispeech, noise_folder, tmp_path):
    base = ["prep", "--speech", str(librispeech), "--noise", str(noise_folder), "--snr", "0", "--snr", "10"]
    assert CliRunner().invoke(app, base + ["-o", str(tmp_path / "whole")]).exit_code == 0
    for k in (1, 2, 3):  # three "machines", each with its own folder
        result = CliRunner().invoke(app, base + ["-o", str(tmp_path / f"part{k}"), "--shard", f"{k}/3"])
        assert result.exit_code == 0, result.output
    partial = CliRunner().invoke(app, ["prep", "-o", str(tmp_path / "merged"), "--merge", str(tmp_path / "part1")])
    assert partial.exit_code == 1 and "shard(s) 2, 3 of 3 are missing" in partial.output
    merged = CliRunner().invoke(
        app, ["prep", "-o", str(tmp_path / "merged"), *[f"--merge={tmp_path / f'part{k}'}" for k in (1, 2, 3)]]
    )
    assert merged.exit_code == 0, merged.output
    from cmkt.teachers.cache import EmbeddingCache

    for split in ("train", "valid", "test"):
        whole = read_manifest(tmp_path / "whole" / f"{split}.jsonl")
        joined = read_manifest(tmp_path / "merged" / f"{split}.jsonl")
        assert [(u.id, u.snr_db, u.noise, u.text) for u in whole] == [(u.id, u.snr_db, u.noise, u.text) for u in joined]
        for a, b in zip(whole, joined):
            assert sf.read(a.noisy)[0].tolist() == sf.read(b.noisy)[0].tolist()
    cache_whole = EmbeddingCache(next((tmp_path / "whole" / "teacher_cache").iterdir()))
    cache_joined = EmbeddingCache(next((tmp_path / "merged" / "teacher_cache").iterdir()))
    texts = [
        u.text for split in ("train", "valid", "test") for u in read_manifest(tmp_path / "whole" / f"{split}.jsonl")
    ]
    for text in texts:
        np.testing.assert_array_equal(cache_whole.get(text), cache_joined.get(text))
    assert (
        json.loads((next((tmp_path / "merged" / "teacher_cache").iterdir()) / "index.json").read_text())["identity"]
        == cache_whole.identity
    )
