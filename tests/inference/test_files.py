import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from tests.conftest import tone


def test_folder_with_a_bad_file_keeps_going_and_fails_at_the_end(trained_model, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    noisy = tone(1.0) + 0.05 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    sf.write(src / "a.wav", noisy, 16000)
    sf.write(src / "sub" / "b.flac", np.stack([noisy, noisy], 1), 44100, subtype="PCM_24")
    (src / "broken.wav").write_bytes(b"junk")
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["enhance", str(src), "-o", str(tmp_path / "out"), "--model", str(trained_model)])
    assert result.exit_code == 1
    assert "broken.wav" in result.output
    out_b = tmp_path / "out" / "sub" / "b.flac"
    info = sf.info(str(out_b))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
    assert sf.info(str(tmp_path / "out" / "a.wav")).frames == 16000
    assert before == {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}  # inputs untouched


def test_refuses_to_overwrite_inputs(trained_model, tmp_path):
    sf.write(tmp_path / "a.wav", tone(), 16000)
    before = (tmp_path / "a.wav").read_bytes()
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path), "--model", str(trained_model), "--overwrite"]
    )
    assert result.exit_code == 1 and "overwrite an input" in result.output
    assert (tmp_path / "a.wav").read_bytes() == before


def test_inference_imports_no_language_model(trained_model, tmp_path):
    sf.write(tmp_path / "a.wav", tone(), 16000)
    code = (
        "import sys; from cmkt.inference.files import enhance_paths; "
        f"s = enhance_paths([{str(tmp_path / 'a.wav')!r}], {str(tmp_path / 'out')!r}, {str(trained_model)!r}); "
        "assert len(s.written) == 1, s.failed; "
        "bad = [m for m in sys.modules if m.startswith(('sentence_transformers', 'transformers', 'cmkt.teachers'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_enhance_array_keeps_shape_and_reduces_nothing_to_nan(trained_model):
    from cmkt.inference.enhancer import enhance_array, load_enhancer

    enhancer = load_enhancer(trained_model)
    out = enhance_array(enhancer, np.stack([tone(0.5, 8000), tone(0.5, 8000)]), 8000)
    assert out.shape == (2, 4000) and np.isfinite(out).all()


def test_installed_model_is_listed_and_used_by_name(trained_model, tmp_path, monkeypatch):
    import shutil

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(trained_model, models / "tiny-demo.pt")
    monkeypatch.setenv("CMKT_MODELS", str(models))
    listing = CliRunner().invoke(app, ["models"], terminal_width=200)
    assert listing.exit_code == 0 and "tiny-demo" in listing.output
    sf.write(tmp_path / "a.wav", tone(), 16000)
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--model", "tiny-demo"]
    )
    assert result.exit_code == 0 and (tmp_path / "out" / "a.wav").is_file()


def test_missing_input_is_reported_by_name(trained_model, tmp_path):
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "typo_folder"), "-o", str(tmp_path / "out"), "--model", str(trained_model)]
    )
    assert result.exit_code == 1 and "typo_folder: no such file or folder" in result.output


def _noisy_tree(root):
    noisy = tone(0.5) + 0.05 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    for rel in ("a.wav", "b.wav", "deep/c.flac", "deep/d.wav", "deep/notes.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            (root / rel).write_text("not audio")
        else:
            sf.write(root / rel, noisy, 16000)


def test_globs_and_list_files_choose_inputs_and_mirror_their_tree(trained_model, tmp_path):
    _noisy_tree(tmp_path / "in")
    (tmp_path / "files.txt").write_text("# chosen\nin/a.wav\n\nin/deep\n")
    result = CliRunner().invoke(
        app,
        [
            "enhance",
            str(tmp_path / "in" / "**" / "*.flac"),
            "--list",
            str(tmp_path / "files.txt"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(trained_model),
        ],
    )
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["a.wav", "c.flac", "d.wav", "deep/c.flac"]


def test_shards_split_the_inputs_without_overlap_or_gaps(trained_model, tmp_path):
    _noisy_tree(tmp_path / "in")
    seen = []
    for k in (1, 2, 3):
        log = tmp_path / f"log{k}.json"
        result = CliRunner().invoke(
            app,
            [
                "enhance",
                str(tmp_path / "in"),
                "-o",
                str(tmp_path / "out"),
                "--model",
                str(trained_model),
                "--shard",
                f"{k}/3",
                "--log",
                str(log),
            ],
        )
        assert result.exit_code == 0, result.output
        seen += [row["input"] for row in json.loads(log.read_text())]
    assert sorted(seen) == sorted(str(p) for p in (tmp_path / "in").rglob("*") if p.suffix in (".wav", ".flac"))
    bad = CliRunner().invoke(app, ["enhance", str(tmp_path / "in"), "--model", str(trained_model), "--shard", "4/3"])
    assert bad.exit_code == 1 and "--shard '4/3'" in bad.output


def test_existing_outputs_are_skipped_and_the_log_says_so(trained_model, tmp_path):
    _noisy_tree(tmp_path / "in")
    args = [
        "enhance",
        str(tmp_path / "in" / "a.wav"),
        str(tmp_path / "in" / "b.wav"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(trained_model),
    ]
    assert CliRunner().invoke(app, args[:2] + args[3:]).exit_code == 0  # a.wav only
    stamp = (tmp_path / "out" / "a.wav").stat().st_mtime_ns
    result = CliRunner().invoke(app, args + ["--log", str(tmp_path / "log.csv")])
    assert result.exit_code == 0 and "skipped 1 existing" in result.output
    rows = {Path(r["input"]).name: r for r in csv.DictReader((tmp_path / "log.csv").open())}
    assert rows["a.wav"]["status"] == "skipped" and rows["b.wav"]["status"] == "written"
    assert float(rows["b.wav"]["rtf"]) > 0 and float(rows["b.wav"]["duration_s"]) == 0.5
    assert (tmp_path / "out" / "a.wav").stat().st_mtime_ns == stamp


def test_streaming_mode_gives_the_same_file_and_states_the_latency(trained_model, tmp_path):
    _noisy_tree(tmp_path / "in")
    src = str(tmp_path / "in" / "a.wav")
    base = ["enhance", src, "--model", str(trained_model)]
    assert CliRunner().invoke(app, base + ["-o", str(tmp_path / "offline")]).exit_code == 0
    result = CliRunner().invoke(app, base + ["-o", str(tmp_path / "stream"), "--streaming", "--block-ms", "10"])
    assert result.exit_code == 0 and "latency 32.0 ms" in result.output
    a, _ = sf.read(tmp_path / "offline" / "a.wav")
    b, _ = sf.read(tmp_path / "stream" / "a.wav")
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_batches_of_short_files_give_what_single_files_give(trained_model, tmp_path):
    rng = np.random.default_rng(3)
    for index, (seconds, rate) in enumerate([(0.3, 16000), (1.1, 16000), (0.7, 8000), (0.5, 44100)]):
        sf.write(
            tmp_path / f"in{index}.wav",
            (0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32),
            rate,
            subtype="FLOAT",
        )
    inputs = sorted(str(p) for p in tmp_path.glob("in*.wav"))
    base = ["enhance", *inputs, "--model", str(trained_model)]
    assert CliRunner().invoke(app, base + ["-o", str(tmp_path / "single")]).exit_code == 0
    assert CliRunner().invoke(app, base + ["-o", str(tmp_path / "batched"), "--batch-size", "3"]).exit_code == 0
    for name in inputs:
        a, rate_a = sf.read(tmp_path / "single" / Path(name).name)
        b, rate_b = sf.read(tmp_path / "batched" / Path(name).name)
        assert rate_a == rate_b and a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_output_rate_subtype_and_container_can_be_chosen(trained_model, tmp_path):
    sf.write(tmp_path / "a.wav", np.stack([tone(1.0, 44100)] * 2, axis=1), 44100, subtype="PCM_24")
    for extra in ([], ["--batch-size", "2"]):
        out = tmp_path / f"out{len(extra)}"
        result = CliRunner().invoke(
            app,
            [
                "enhance",
                str(tmp_path / "a.wav"),
                "-o",
                str(out),
                "--model",
                str(trained_model),
                "--rate",
                "16000",
                "--format",
                "flac",
                "--subtype",
                "PCM_16",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        info = sf.info(str(out / "a.flac"))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 2, "PCM_16", 16000)
    bad = CliRunner().invoke(
        app,
        [
            "enhance",
            str(tmp_path / "a.wav"),
            "-o",
            str(tmp_path / "x"),
            "--model",
            str(trained_model),
            "--format",
            "m4a",
        ],
    )
    assert bad.exit_code == 1 and "--format m4a" in bad.output


def _enhance(model, *args):
    return CliRunner().invoke(app, ["enhance", *map(str, args), "--model", str(model)], terminal_width=300)


def test_two_inputs_with_one_name_keep_both_results(trained_model, tmp_path):
    for folder, freq in (("a", 300.0), ("b", 900.0)):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "x.wav", tone(freq=freq), 16000)
    out = tmp_path / "out"
    result = _enhance(trained_model, tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav", "-o", out)
    assert result.exit_code == 0, result.output
    assert "enhanced 2 file(s)" in result.output and "skipped 0" in result.output
    first, second = sf.read(out / "a" / "x.wav")[0], sf.read(out / "b" / "x.wav")[0]
    assert not np.allclose(first, second)  # each input has its own output
    again = _enhance(trained_model, tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav", "-o", out, "--overwrite")
    assert again.exit_code == 0 and np.array_equal(sf.read(out / "a" / "x.wav")[0], first)


def test_an_output_folder_inside_the_input_tree_is_never_enhanced_again(trained_model, tmp_path, monkeypatch):
    sf.write(tmp_path / "x.wav", tone(), 16000)
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        result = _enhance(trained_model, ".", "-o", "enhanced", "--overwrite")
        assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.wav")) == ["enhanced/x.wav", "x.wav"]


def test_a_glob_that_matches_nothing_is_reported_like_a_missing_file_and_the_rest_is_done(trained_model, tmp_path):
    sf.write(tmp_path / "x.wav", tone(), 16000)
    result = _enhance(trained_model, tmp_path / "x.wav", str(tmp_path / "none" / "*.wav"), "-o", tmp_path / "out")
    assert result.exit_code == 1 and "matches no audio files" in result.output
    assert (tmp_path / "out" / "x.wav").is_file()


def test_a_folder_with_nothing_to_enhance_fails_and_says_what_it_passed_over(trained_model, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.docx").write_bytes(b"not audio")
    result = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "no audio files" in result.output
    assert "passed over 1 file(s)" in result.output and ".docx" in result.output


def test_every_container_soundfile_reads_is_enhanced_into_the_same_container(trained_model, tmp_path):
    """MP3, Opus, AIFF and CAF in, the same out (at the input's rate and length); soundfile reads and writes them
    all."""
    noisy = tone(1.0, 48000) + 0.05 * np.random.default_rng(0).standard_normal(48000).astype(np.float32)
    (tmp_path / "in").mkdir()
    for name, kwargs in (
        ("a.mp3", {}),
        ("b.opus", {"format": "OGG", "subtype": "OPUS"}),
        ("c.aiff", {}),
        ("d.caf", {}),
    ):
        sf.write(tmp_path / "in" / name, noisy, 48000, **kwargs)
    result = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for name, container in (("a.mp3", "MP3"), ("b.opus", "OGG"), ("c.aiff", "AIFF"), ("d.caf", "CAF")):
        info = sf.info(tmp_path / "out" / name)
        assert info.format == container and info.samplerate == 48000, name
        assert abs(info.frames - sf.info(tmp_path / "in" / name).frames) <= 1152, name  # an MP3 frame at most
    assert sf.info(tmp_path / "out" / "b.opus").subtype == "OPUS"


def test_an_opus_output_at_a_rate_opus_lacks_says_which_rates_it_has(trained_model, tmp_path):
    sf.write(tmp_path / "x.wav", tone(0.5, 44100), 44100)
    result = _enhance(trained_model, tmp_path / "x.wav", "-o", tmp_path / "out", "--format", "opus")
    assert result.exit_code == 1 and "Opus stores 8, 12, 16, 24, 48 kHz only, not 44100 Hz" in result.output


def test_block_ms_without_streaming_is_refused_not_ignored(trained_model, tmp_path):
    sf.write(tmp_path / "a.wav", tone(0.5), 16000)
    result = _enhance(trained_model, tmp_path / "a.wav", "-o", tmp_path / "out", "--block-ms", "20")
    assert result.exit_code == 1 and "--block-ms 20 sets the block size of --streaming" in result.output


def test_the_python_api_takes_an_enhancer_and_options(trained_model, tmp_path):
    from cmkt.inference.enhancer import load_enhancer
    from cmkt.inference.files import EnhanceOptions, enhance_paths

    sf.write(tmp_path / "a.wav", tone(0.5), 16000)
    enhancer = load_enhancer(trained_model)
    summary = enhance_paths(
        [tmp_path / "a.wav"], tmp_path / "out", enhancer, EnhanceOptions(suffix="_x", out_format="flac")
    )
    assert summary.written == [tmp_path / "out" / "a_x.flac"] and summary.latency_ms == enhancer.latency_ms > 0


def test_outputs_record_their_model_and_a_rerun_with_another_model_warns(trained_model, tmp_path):
    import torch

    from cmkt.inference.files import made_by
    from cmkt.registry import build_model, save_checkpoint

    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    save_checkpoint(other, build_model("stft-mask-gru", {"hidden": 16}), "stft-mask-gru")
    sf.write(tmp_path / "a.wav", tone(0.5), 16000)
    first = _enhance(trained_model, tmp_path / "a.wav", "-o", tmp_path / "out", "--log", tmp_path / "log.csv")
    assert first.exit_code == 0 and made_by(tmp_path / "out" / "a.wav").startswith(trained_model.name + " sha256:")
    assert next(csv.DictReader((tmp_path / "log.csv").open()))["model"] == made_by(tmp_path / "out" / "a.wav")
    same = _enhance(trained_model, tmp_path / "a.wav", "-o", tmp_path / "out")
    assert same.exit_code == 0 and "another model" not in same.output
    result = CliRunner().invoke(
        app,
        ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--model", str(other)],
        terminal_width=300,
    )
    assert result.exit_code == 0 and "1 existing output(s) skipped were made with another model" in " ".join(
        result.output.split()
    )
    assert "--overwrite" in result.output


def test_jobs_enhance_files_in_parallel_processes_with_the_same_results_and_log(trained_model, tmp_path):
    (tmp_path / "in").mkdir()
    rng = np.random.default_rng(0)
    for index in range(5):
        sf.write(
            tmp_path / "in" / f"f{index}.wav",
            tone(1.0, freq=200.0 + 100 * index) + 0.05 * rng.standard_normal(16000),
            16000,
        )
    (tmp_path / "in" / "broken.wav").write_bytes(b"not audio at all")
    one = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "one")
    two = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "two", "--jobs", "2", "--log", tmp_path / "log.csv")
    assert one.exit_code == two.exit_code == 1 and "broken.wav" in two.output  # the bad file fails in both, by name
    for index in range(5):
        a, b = sf.read(tmp_path / "one" / f"f{index}.wav")[0], sf.read(tmp_path / "two" / f"f{index}.wav")[0]
        assert np.allclose(a, b, atol=1e-4)  # one thread per process: the same model, the same output
    rows = {Path(r["input"]).name: r for r in csv.DictReader((tmp_path / "log.csv").open())}
    assert [rows[f"f{i}.wav"]["status"] for i in range(5)] == ["written"] * 5 and rows["broken.wav"][
        "status"
    ] == "failed"
    again = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "two", "--jobs", "2")
    assert "skipped 5 existing" in again.output
    refused = _enhance(trained_model, tmp_path / "in", "-o", tmp_path / "x", "--jobs", "2", "--batch-size", "4")
    assert refused.exit_code == 1 and "--jobs 2 runs files in parallel CPU processes" in refused.output
