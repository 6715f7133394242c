"""Bad input, every subcommand: one clear line naming the file and the fix; the other files still done.

Each case here is a row of docs/RELIABILITY.md.
"""

import csv

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from cmkt.cli import app
from tests.conftest import tone

ODD_NAME = "ünï cödé & $(rm -rf x) 'q'"


def _write_bytes(path, data: bytes):
    path.write_bytes(data)


def _truncated(path):
    sf.write(path.with_suffix(".full.wav"), tone(1.0), 16000)
    data = path.with_suffix(".full.wav").read_bytes()
    path.with_suffix(".full.wav").unlink()
    path.write_bytes(data[: len(data) // 2])


def _float_with(value):
    def make(path):
        samples = tone(1.0)
        samples[8000] = value
        sf.write(path, samples, 16000, subtype="FLOAT")

    return make


BAD = {  # name -> (maker, words the error must contain)
    "empty file (0 bytes)": (lambda p: _write_bytes(p, b""), "empty file (0 bytes)"),
    "zero-length audio": (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no samples"),
    "corrupt (random bytes)": (lambda p: _write_bytes(p, np.random.default_rng(0).bytes(5000)), "re-encode"),
    "text file named .wav": (lambda p: p.write_text("this is not audio\n" * 50), "re-encode"),
    "NaN samples": (_float_with(np.nan), "NaN or infinite"),
    "infinite samples": (_float_with(np.inf), "NaN or infinite"),
}
GOOD = {  # name -> (maker, (rate, channels, frames) expected of the output)
    "truncated WAV (header longer than data)": (_truncated, (16000, 1, None)),
    "all-silent": (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), (16000, 1, 16000)),
    "clipped square wave": (lambda p: sf.write(p, np.sign(tone(1.0)), 16000), (16000, 1, 16000)),
    "shorter than one frame (10 samples)": (lambda p: sf.write(p, tone(1.0)[:10], 16000), (16000, 1, 10)),
    "8 kHz mono": (lambda p: sf.write(p, tone(1.0, 8000), 8000), (8000, 1, 8000)),
    "22.05 kHz, 3 channels": (lambda p: sf.write(p, np.stack([tone(1.0, 22050)] * 3, 1), 22050), (22050, 3, 22050)),
    "44.1 kHz stereo": (lambda p: sf.write(p, np.stack([tone(1.0, 44100)] * 2, 1), 44100), (44100, 2, 44100)),
    "48 kHz, 8 channels": (lambda p: sf.write(p, np.stack([tone(0.5, 48000)] * 8, 1), 48000), (48000, 8, 24000)),
}


@pytest.mark.parametrize("case", list(BAD))
def test_enhance_names_the_bad_file_and_the_fix_and_does_the_rest(trained_model, tmp_path, case):
    maker, words = BAD[case]
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "good.wav", tone(1.0), 16000)
    maker(tmp_path / "in" / f"{ODD_NAME}.wav")
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(trained_model)]
    )
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and ODD_NAME in failed[0] and words in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.wav"]


@pytest.mark.parametrize("case", list(GOOD))
def test_enhance_handles_odd_but_valid_audio(trained_model, tmp_path, case):
    maker, (rate, channels, frames) = GOOD[case]
    source = tmp_path / f"{ODD_NAME}.wav"
    maker(source)
    expected_frames = frames if frames is not None else sf.info(str(source)).frames
    result = CliRunner().invoke(
        app, ["enhance", str(source), "-o", str(tmp_path / "out"), "--model", str(trained_model)]
    )
    assert result.exit_code == 0, result.output
    info = sf.info(str(tmp_path / "out" / source.name))
    assert (info.samplerate, info.channels, info.frames) == (rate, channels, expected_frames)
    out, _ = sf.read(tmp_path / "out" / source.name)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    warned = "truncated (0.50 s of the 1.00 s its header declares)" in " ".join(result.output.split())
    assert warned == (
        case == "truncated WAV (header longer than data)"
    )  # named, with what was used; no other file warned


@pytest.mark.parametrize("case", list(BAD))
def test_score_reports_a_bad_estimate_per_file(tmp_path, case):
    maker, words = BAD[case]
    for folder in ("ref", "est"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "good.wav", tone(1.0), 16000)
        sf.write(tmp_path / "ref" / f"{ODD_NAME}.wav", tone(1.0), 16000)
    maker(tmp_path / "est" / f"{ODD_NAME}.wav")
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--ref",
            str(tmp_path / "ref"),
            "--est",
            str(tmp_path / "est"),
            "--metrics",
            "si_sdr",
            "--jobs",
            "1",
            "-o",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 1 and words in result.output.replace("\n", " ") and "Traceback" not in result.output
    rows = {r["file"]: r for r in csv.DictReader((tmp_path / "s" / "scores.csv").open(encoding="utf-8"))}
    assert rows["good"]["si_sdr"] and rows[ODD_NAME]["error"]


@pytest.mark.parametrize("case", ["empty file (0 bytes)", "corrupt (random bytes)", "NaN samples", "all-silent"])
def test_prep_skips_a_bad_recording_names_it_and_prepares_the_rest(noise_folder, tmp_path, case):
    maker = {**{k: v[0] for k, v in BAD.items()}, "all-silent": GOOD["all-silent"][0]}[case]
    (tmp_path / "corpus").mkdir()
    for index in range(3):
        sf.write(tmp_path / "corpus" / f"good{index}.wav", tone(1.0, freq=300 + 50 * index), 16000)
    maker(tmp_path / "corpus" / f"{ODD_NAME}.wav")
    result = CliRunner().invoke(
        app,
        [
            "prep",
            "--speech",
            str(tmp_path / "corpus"),
            "--noise",
            str(noise_folder),
            "-o",
            str(tmp_path / "data"),
            "--teacher",
            "none",
        ],
    )
    assert result.exit_code == 1 and "skipped:" in result.output and ODD_NAME in result.output
    assert "Traceback" not in result.output
    prepared = sum(1 for split in ("train", "valid", "test") for p in (tmp_path / "data").glob(f"{split}/clean/*.wav"))
    assert prepared == 3


def test_output_folder_that_cannot_be_created_is_a_clear_error(trained_model, tmp_path):
    sf.write(tmp_path / "a.wav", tone(1.0), 16000)
    (tmp_path / "blocked").write_text("a file where the output folder should go")
    result = CliRunner().invoke(
        app,
        ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "blocked" / "out"), "--model", str(trained_model)],
    )
    assert result.exit_code == 1 and "cannot create output folder" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("damage", ["truncated", "another architecture", "newer version", "not a checkpoint"])
def test_bad_checkpoints_are_refused_with_the_reason(trained_model, tmp_path, damage):
    path = tmp_path / "model.pt"
    payload = torch.load(trained_model, weights_only=False)
    if damage == "truncated":
        path.write_bytes(trained_model.read_bytes()[:5000])
    elif damage == "another architecture":
        torch.save({**payload, "arch": "conv-tasnet-xl"}, path)
    elif damage == "newer version":
        torch.save({**payload, "format": 99, "cmkt_version": "9.0"}, path)
    else:
        torch.save({"weights": payload["state_dict"]}, path)
    sf.write(tmp_path / "a.wav", tone(1.0), 16000)
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--model", str(path)]
    )
    expected = {
        "truncated": "truncated",
        "another architecture": "unknown architecture 'conv-tasnet-xl'",
        "newer version": "upgrade cmkt",
        "not a checkpoint": "not a CMKT checkpoint",
    }[damage]
    assert result.exit_code == 1 and expected in result.output.replace("\n", " ") and "Traceback" not in result.output


def test_transcripts_the_teacher_cannot_take_whole_are_noted():
    from cmkt.teachers.lm import LMTeacher

    teacher = LMTeacher()
    embeddings = teacher.encode(["", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", " ".join(["word"] * 400), "An ordinary sentence."])
    assert all(np.isfinite(e).all() for e in embeddings)
    assert len(teacher.notes) == 2
    assert "mostly unknown to the teacher" in teacher.notes[0] and "truncated" in teacher.notes[1]


def test_a_read_only_output_folder_is_named_as_the_cause(trained_model, tmp_path):
    import subprocess

    sf.write(tmp_path / "in.wav", tone(1.0), 16000)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    immutable = (
        os.access(out, os.W_OK) and subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode == 0
    )
    try:  # root ignores the mode; an immutable folder stops root too
        if os.access(out, os.W_OK):
            pytest.skip("cannot make a folder read-only here (root, and no chattr)")
        result = CliRunner().invoke(
            app, ["enhance", str(tmp_path / "in.wav"), "-o", str(out), "--model", str(trained_model)]
        )
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(out)], check=True)
        out.chmod(0o755)
    assert result.exit_code == 1 and "permission denied" in result.output.lower(), result.output
    assert "format" not in result.output


@pytest.mark.parametrize(
    "arch, settings, words",
    [
        ("stft-mask-gru", '{"hop": 100}', "hop (100) must divide n_fft (512)"),
        ("stft-mask-gru", '{"hidden": "big"}', "hidden is 'big', not int (default 256)"),
        ("stft-mask-gru", '{"deep_filter_order": true}', "deep_filter_order is True, not int"),
        ("conv-tasnet", '{"tap_hop": 100}', "tap_hop must be a multiple of the encoder stride"),
    ],
)
def test_a_bad_model_config_is_one_line_not_a_traceback(prepared, tmp_path, arch, settings, words):
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--train",
            str(prepared / "train.jsonl"),
            "--valid",
            str(prepared / "valid.jsonl"),
            "-o",
            str(tmp_path / "run"),
            "--teacher",
            "none",
            "--arch",
            arch,
            "--model-config",
            settings,
        ],
        terminal_width=300,
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and words in lines[0] and "--model-config" in lines[0], (
        result.output
    )


def test_prep_lists_every_missing_or_unreadable_recording_and_every_bad_noise_file(noise_folder, tmp_path):
    (tmp_path / "corpus").mkdir()
    for index in range(4):
        sf.write(tmp_path / "corpus" / f"good{index}.wav", tone(1.0, freq=300 + 50 * index), 16000)
    (tmp_path / "corpus" / "broken.wav").write_bytes(b"not audio")
    rows = (
        ["path\ttext"] + [f"good{i}.wav\thello" for i in range(4)] + ["gone1.wav\tx", "gone2.wav\ty", "broken.wav\tz"]
    )
    (tmp_path / "corpus" / "table.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    def run(*extra: str):
        command = ["prep", "--speech", str(tmp_path / "corpus" / "table.tsv"), "--teacher", "none", *extra]
        return CliRunner().invoke(app, command, terminal_width=300)

    result = run("--noise", str(noise_folder), "-o", str(tmp_path / "data"))
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped:")]
    assert result.exit_code == 1 and len(skipped) == 3 and "Traceback" not in result.output
    assert all(any(name in line for line in skipped) for name in ("gone1.wav", "gone2.wav", "broken.wav"))
    bad_noise = tmp_path / "noise"
    bad_noise.mkdir()
    sf.write(bad_noise / "fine.wav", tone(2.0), 16000)
    for name in ("bad1.wav", "bad2.flac"):
        (bad_noise / name).write_bytes(b"\x00" * 100)
    result = run("--noise", str(bad_noise), "-o", str(tmp_path / "data2"))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "2 unreadable noise file(s)" in lines[0]
    assert "bad1.wav" in lines[0] and "bad2.flac" in lines[0]


def test_prep_says_when_no_valid_split_was_made_and_check_needs_no_output_folder(noise_folder, tmp_path):
    (tmp_path / "corpus").mkdir()
    sf.write(tmp_path / "corpus" / "only.wav", tone(1.0), 16000)
    (tmp_path / "corpus" / "table.tsv").write_text("path\ttext\tsplit\nonly.wav\thello\ttrain\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "prep",
            "--speech",
            str(tmp_path / "corpus" / "table.tsv"),
            "--noise",
            str(noise_folder),
            "-o",
            str(tmp_path / "data"),
            "--teacher",
            "none",
        ],
        terminal_width=300,
    )
    assert (
        result.exit_code == 0 and "no valid split" in result.output and "cmkt train` needs valid.jsonl" in result.output
    )
    checked = CliRunner().invoke(app, ["prep", "--speech", str(tmp_path / "data" / "train.jsonl"), "--check"])
    assert checked.exit_code == 0 and "no problems found" in checked.output
    assert (
        CliRunner().invoke(app, ["prep", "--speech", str(tmp_path / "corpus")]).exit_code == 1
    )  # without --check, -o is needed
