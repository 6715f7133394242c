"""The open-corpus recipe on small source trees made here: a tiny git repository per GitHub source
and fake Debian extraction folders, with real audio (tones and noise) written in the test."""

from __future__ import annotations

import csv
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from recipes.open_corpus import build as builder
from recipes.open_corpus import noise_beds, open_test, splitting
from recipes.open_corpus.fetching import MARKER, export_git, find_git_dir
from recipes.open_corpus.sources import SOURCES

RATE = 22050  # not 16 kHz: the build resamples


def _voice(seed: int, seconds: float = 1.2) -> np.ndarray:
    """A harmonic 'voice' with a pitch of its own, amplitude-modulated like syllables."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 100 + 20 * seed % 150
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.2 * wave * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.002 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def _noise(seed: int, seconds: float) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)


def _git_repo(folder: Path, files: dict[str, bytes | np.ndarray], drop_blob: str | None = None) -> None:
    """A committed repository; `drop_blob` names a file whose object is then deleted, as a snapshot
    that leaves out large files has it."""
    folder.mkdir(parents=True)
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            sf.write(path, content, RATE)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "data"]):
        subprocess.run([*git, *args], cwd=folder, check=True)
    if drop_blob:
        oid = subprocess.run(
            ["git", "rev-parse", f"HEAD:{drop_blob}"], cwd=folder, check=True, capture_output=True, text=True
        ).stdout.strip()
        (folder / ".git" / "objects" / oid[:2] / oid[2:]).unlink()


def _speechocean(root: Path) -> None:
    files: dict[str, bytes | np.ndarray] = {}
    text, gender, age = [], [], []
    for speaker in range(1, 61):  # 60 speakers, half female, a third children
        spk = f"{speaker:04d}"
        gender.append(f"{spk} {'f' if speaker % 2 else 'm'}")
        age.append(f"{spk} {9 if speaker % 3 == 0 else 30}")
        for take in range(2):
            utt = f"{spk}{take:05d}"
            files[f"WAVE/SPEAKER{spk}/{utt}.WAV"] = _voice(speaker * 10 + take)
            text.append(f"{utt} HELLO NUMBER {take}")
    files["WAVE/SPEAKER0001/0001TRUNC.WAV"] = (
        b"RIFF\x24\x80\x00\x00WAVEfmt "
        + b"\x10\x00\x00\x00\x01\x00\x01\x00"
        + b"\x22\x56\x00\x00\x44\xac\x00\x00\x02\x00\x10\x00data\x00\x80\x00\x00"
        + b"\x00\x01" * 100
    )  # header says more than is there
    text.append("0001TRUNC A TRUNCATED FILE")
    for part in ("train", "test"):
        files[f"{part}/text"] = ("\n".join(text) + "\n").encode()
        files[f"{part}/spk2gender"] = ("\n".join(gender) + "\n").encode()
        files[f"{part}/spk2age"] = ("\n".join(age) + "\n").encode()
    _git_repo(root / "jimbozhang+speechocean762", files)


def _moodist(root: Path) -> None:
    files: dict[str, bytes | np.ndarray] = {}
    for number, family in enumerate(("places", "rain", "urban", "animals")):
        for index in range(7):  # a seed of its own for each (not hash(), which changes per process and could collide)
            files[f"public/sounds/{family}/{family}{index}.wav"] = _noise(
                1000 + 100 * number + index, 20.0 if index % 2 else 8.0
            )
    files["public/sounds/binaural/binaural-alpha.wav"] = _noise(1, 5.0)  # synthetic: dropped by rule
    files["public/sounds/places/copy.wav"] = files["public/sounds/places/places0.wav"]  # an exact duplicate
    gap = _noise(77, 20.0)
    gap[int(2 * RATE) : int(19 * RATE)] = 0  # a recording that falls silent: its silent pieces are left out
    files["public/sounds/urban/gap.wav"] = gap
    _git_repo(root / "moodist", files, drop_blob="public/sounds/rain/rain3.wav")


def _blanket(root: Path) -> None:
    _git_repo(
        root / "blanket.git",
        {"data/resources/sounds/city.ogg": _noise(5, 6.0), "data/resources/sounds/pink-noise.ogg": _noise(6, 3.0)},
    )


def _debs(out: Path) -> None:
    """Fake Debian extraction folders (marked complete, so nothing is downloaded)."""
    for source in SOURCES:
        kind, _, name = source.origin.partition(":")
        if kind == "deb":
            (out / "extracted" / name).mkdir(parents=True, exist_ok=True)
            (out / "extracted" / name / MARKER).touch()
    kt = out / "extracted/ktuberling-data/usr/share/ktuberling/sounds"
    for lang in ("fr", "de", "nl", "sl"):
        (kt / lang).mkdir(parents=True)
        entries = []
        for index, word in enumerate(("ball", "hat", "nose")):
            sf.write(kt / lang / f"{word}.ogg", _voice(500 + index + 7 * len(lang + word)), RATE)
            entries.append(f'<sound name="{word}" file="{lang}/{word}.ogg" />')
        (kt / f"{lang}.soundtheme").write_text(
            f'<language code="{lang}">{"".join(entries)}</language>', encoding="utf-8"
        )
    clipped = np.clip(4 * _voice(900), -1, 1)  # heavily clipped: dropped by the measured rule
    sf.write(kt / "de" / "hat.ogg", clipped, RATE)
    fx = out / "extracted/lincity-ng-data/usr/share/games/lincity-ng/sounds"
    fx.mkdir(parents=True)
    for index in range(12):
        sf.write(fx / f"Mill{index}.wav", _noise(200 + index, 0.5 + index % 3), RATE)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict, Path]:
    root = tmp_path_factory.mktemp("open_corpus")
    git_dirs, out = root / "git", root / "corpus"
    _speechocean(git_dirs)
    _moodist(git_dirs)
    _blanket(git_dirs)
    _debs(out)
    summary = builder.build(out, git_dirs, workers=2, open_test_size=12, train_rooms=3, open_valid_size=8)
    return out, summary, git_dirs


def _table(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))


def test_splits_keep_every_speaker_and_noise_recording_on_one_side(built):
    out, summary, _ = built
    speech = _table(out / "speech.tsv")
    sides = defaultdict(set)
    for row in speech:
        sides[row["speaker"]].add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    so762 = {row["speaker"]: row for row in speech if row["source"] == "speechocean762"}
    held = [row for row in so762.values() if row["split"] == "test"]
    assert len(held) >= splitting.SO762_TEST * 60 // 250 and {r["gender"] for r in held} == {"m", "f"}
    assert {r["age"] for r in held} == {"9", "30"}  # children and adults both held out
    noise = _table(out / "noise.tsv")
    assert len({r["recording"] for r in noise}) == len(noise)  # one split per recording
    assert {r["family"] for r in noise if r["split"] == "test"} == {r["family"] for r in noise}
    for split in ("train", "valid", "test"):  # a recording's pieces sit only in its own split's folder
        stems = {p.stem.rsplit("__", 1)[0] for p in (out / "noise" / split / "ambience").rglob("*.flac")}
        expected = {r["recording"].split("/", 1)[1] for r in noise if r["split"] == split and r["kind"] == "ambience"}
        assert stems <= expected and expected - stems <= {"gap"}  # gap: silent in every piece
    assert summary["speakers"] == len(sides) and summary["noise_recordings"] == len(noise)
    card = (out / "datacard.md").read_text(encoding="utf-8")
    assert f"{summary['speakers']} speakers" in card and f"{summary['noise_recordings']} noise recordings" in card


def test_rules_drop_what_they_should_and_missing_or_truncated_files_are_named(built):
    out, summary, _ = built
    speech, noise = _table(out / "speech.tsv"), _table(out / "noise.tsv")
    assert not any(r["lang"] == "sl" for r in speech)  # a clipped language, by rule
    assert not any(r["id"].endswith("de__hat") for r in speech)  # clipped, measured
    assert not any("binaural" in r["recording"] or "pink-noise" in r["recording"] for r in noise)
    assert sum(r["recording"] in ("moodist/copy", "moodist/places0") for r in noise) == 1  # exact duplicates: one kept
    assert summary["dropped"]["moodist"]["exact duplicate of another file"] == 1
    problems = "\n".join(summary["problems"])
    assert "public/sounds/rain/rain3.wav" in problems  # missing from the git directory
    assert "0001TRUNC.WAV" in problems and "truncated" in problems
    assert not any("TRUNC" in r["id"] for r in speech)
    with sf.SoundFile(out / speech[0]["path"]) as handle:
        assert handle.samplerate == 16000 and handle.channels == 1 and handle.format == "FLAC"


def test_no_noise_file_has_a_silent_stretch(built):
    out, _, _ = built
    files = sorted((out / "noise").rglob("*.flac"))
    assert files and all(
        noise_beds.quietest_window(sf.read(f, dtype="float32")[0]) >= builder.SILENT_WINDOW_RMS for f in files
    )
    assert not list((out / "noise").rglob("gap__*.flac"))


def test_rerun_and_a_fresh_build_give_identical_tables(built, tmp_path):
    out, _, git_dirs = built
    before = {name: (out / name).read_bytes() for name in ("speech.tsv", "noise.tsv", "open_test/plain/test.jsonl")}
    builder.build(out, git_dirs, workers=1, open_test_size=12, train_rooms=3)
    assert {name: (out / name).read_bytes() for name in before} == before
    fresh = tmp_path / "fresh"
    _debs(fresh)
    builder.build(fresh, git_dirs, workers=1, open_test_size=12, train_rooms=3)
    assert {name: (fresh / name).read_bytes() for name in before} == before
    assert (fresh / "noise/test/beds/effects0000.flac").read_bytes() == (
        out / "noise/test/beds/effects0000.flac"
    ).read_bytes()


def test_cmkt_prep_reads_the_speech_table_and_noise_folders(built, tmp_path):
    out, _, _ = built
    result = CliRunner().invoke(
        app,
        [
            "prep",
            "--speech",
            str(out / "speech.tsv"),
            "--noise",
            str(out / "noise"),
            "-o",
            str(tmp_path / "data"),
            "--snr-range",
            "-5",
            "20",
            "--teacher",
            "none",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "train.jsonl").is_file() and (tmp_path / "data" / "test.jsonl").is_file()


@pytest.mark.parametrize("split,size", [("test", 12), ("valid", 8)])
def test_open_sets_have_the_same_utterances_in_every_condition_and_only_their_split(built, split, size):
    out, summary, _ = built
    from cmkt.data.manifest import read_manifest

    root = out / f"open_{split}"
    manifests = {c: read_manifest(root / c / f"{split}.jsonl") for c in open_test.CONDITIONS}
    ids = {c: [u.id for u in m] for c, m in manifests.items()}
    assert ids["plain"] == ids["reverb"] == ids["telephone"] and len(ids["plain"]) == size
    speakers = {r["speaker"] for r in _table(out / "speech.tsv") if r["split"] == split}
    assert {u.speaker for u in manifests["plain"]} <= speakers
    assert all(u.extra.get("rir") for u in manifests["reverb"])
    assert all(-5 <= u.snr_db <= 15 for u in manifests["plain"])
    with sf.SoundFile(root / "telephone" / manifests["telephone"][0].noisy) as handle:
        assert handle.samplerate == 8000 and handle.subtype == "ULAW"


def test_open_valid_has_its_own_rooms_and_noises(built):
    out, _, _ = built
    from cmkt.data.manifest import read_manifest

    rooms = {
        split: sorted(p.read_bytes() for p in (out / f"open_{split}" / "rooms").glob("*.wav"))
        for split in ("test", "valid")
    }
    assert rooms["valid"] and not set(rooms["valid"]) & set(rooms["test"])
    for split in ("test", "valid"):
        drawn = {u.noise for u in read_manifest(out / f"open_{split}/plain/{split}.jsonl")}
        assert drawn <= {p.stem for p in (out / "noise" / split).rglob("*.*")}


def test_telephone_band_keeps_speech_band_and_removes_the_rest():
    t = np.arange(16000) / 16000
    inside, above, below = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (1000, 3900, 100))
    level = lambda x: np.sqrt(np.mean(open_test.telephone_band(x, 16000)[800:] ** 2)) / np.sqrt(0.5)  # noqa: E731
    assert level(inside) > 0.9 and level(above) < 0.25 and level(below) < 0.25


def test_noise_beds_cut_and_lay_deterministically():
    pieces = noise_beds.cut_pieces(np.ones(int(37 * 16000), dtype=np.float32))
    assert [len(p) / 16000 for p in pieces] == [15.0, 15.0, 7.0]
    effects = [np.random.default_rng(i).standard_normal(4000).astype(np.float32) for i in range(5)]
    first, again = noise_beds.effect_beds(effects, [], 3, seed=1), noise_beds.effect_beds(effects, [], 3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(len(b) == noise_beds.BED_S * 16000 and 0.49 < np.abs(b).max() <= 0.5 for b in first)


def test_split_quota_is_balanced_and_repeatable():
    strata = {"f-adult": [f"fa{i}" for i in range(100)], "m-child": [f"mc{i}" for i in range(50)]}
    split = splitting.quota_split(strata, test=15, valid=9, seed=0)
    assert split == splitting.quota_split(strata, test=15, valid=9, seed=0)
    assert sum(1 for s, v in split.items() if v == "test" and s.startswith("fa")) == 10
    assert sum(1 for s, v in split.items() if v == "test" and s.startswith("mc")) == 5


def test_git_directories_are_found_bare_or_cloned(tmp_path):
    _git_repo(tmp_path / "clone" / "blanket", {"a.txt": b"x"})
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(tmp_path / "clone" / "blanket"), str(tmp_path / "bare" / "blanket.git")],
        check=True,
    )
    for root in (tmp_path / "clone", tmp_path / "bare"):
        found = find_git_dir(root, "rafaelmardojai/blanket")
        folder, missing = export_git(found, tmp_path / f"out-{root.name}")
        assert (folder / "a.txt").read_bytes() == b"x" and missing == []


def test_training_rooms_are_not_open_test_rooms_and_the_reverb_augmentation_reads_them(built):
    from cmkt.data.augment.registry import parse_augmentations

    out, _, _ = built
    train = sorted((out / "rooms" / "train").glob("*.wav"))
    test = sorted((out / "open_test" / "rooms").glob("*.wav"))
    assert len(train) == 3 and test
    test_rirs = [sf.read(p, dtype="float32")[0] for p in test]
    for path in train:
        rir = sf.read(path, dtype="float32")[0]
        assert not any(len(rir) == len(t) and np.array_equal(rir, t) for t in test_rirs)
    assert len(parse_augmentations("reverb", out / "rooms" / "train")[0].rirs) == 3


def test_install_v2_ships_the_run_and_keeps_the_replaced_model_by_name(trained_model, tmp_path, monkeypatch):
    import recipes.open_corpus.install_v2 as installer
    from cmkt.registry import read_checkpoint, save_torch

    shipped = tmp_path / "cmkt-base-16k.pt"
    old = read_checkpoint(trained_model)
    save_torch(shipped, {**old, "name": "cmkt-base-16k", "marker": "the old default"})
    monkeypatch.setattr(installer, "PRETRAINED_DIR", tmp_path)
    current, kept = installer.install(trained_model.parent, "cmkt-base-16k-v1")
    assert current == shipped and kept == tmp_path / "cmkt-base-16k-v1.pt"
    new, previous = read_checkpoint(current), read_checkpoint(kept)
    assert new["name"] == "cmkt-base-16k" and "train_v2.sh" in new["recipe"] and "marker" not in new
    assert previous["name"] == "cmkt-base-16k-v1" and previous["marker"] == "the old default"
    assert installer.install(trained_model.parent, "cmkt-base-16k-v1")[1] is None  # the kept one is never overwritten
    assert read_checkpoint(kept)["marker"] == "the old default"
    installer.install(trained_model.parent, "cmkt-base-16k-v1", recipe="RUN=s9 bash recipes/open_corpus/train_v2.sh")
    assert read_checkpoint(current)["recipe"] == "RUN=s9 bash recipes/open_corpus/train_v2.sh"
