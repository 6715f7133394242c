import pytest
from typer.testing import CliRunner

from cmkt.cli import app

runner = CliRunner()


def test_top_level_help_lists_the_subcommands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prep", "train", "enhance", "score", "models"):
        assert command in result.output


@pytest.mark.parametrize("command", ["prep", "train", "enhance", "score", "models"])
def test_every_subcommand_has_help_with_an_example(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0 and "Example" in result.output


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--train",
            str(tmp_path / "nope.jsonl"),
            "--valid",
            str(tmp_path / "nope.jsonl"),
            "-o",
            str(tmp_path / "run"),
            "--teacher",
            "none",
        ],
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "nope.jsonl" in lines[0] and "error" in lines[0]


def test_models_lists_the_architecture():
    result = runner.invoke(app, ["models"], terminal_width=250)
    assert result.exit_code == 0 and "stft-mask-gru" in result.output
    lines = result.output.splitlines()
    shipped = next(line for line in lines if "cmkt-base-16k (default)" in line)
    previous = next(line for line in lines if "cmkt-base-16k-s3" in line)
    assert "off" in shipped.split("│")[5] and "0.1" in previous.split("│")[5]  # the post-filter each runs with


def test_train_reads_an_augment_list_and_its_shorthand_flags(prepared, tmp_path):
    import json

    base = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--teacher",
        "none",
        "--model-config",
        '{"hidden": 16}',
        "--steps",
        "1",
        "--batch-size",
        "1",
        "--valid-items",
        "1",
        "--dynamic-mixing",
    ]
    bad = runner.invoke(app, [*base, "-o", str(tmp_path / "bad"), "--augment", "nosie"])
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert bad.exit_code == 1 and len(lines) == 1 and "unknown augmentation 'nosie'" in lines[0]
    result = runner.invoke(app, [*base, "-o", str(tmp_path / "run"), "--augment", "level=0.5", "--noise-augment"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["augment"] == "noise,level=0.5"


def test_train_takes_its_settings_from_a_config_file_and_flags_override_it(prepared, tmp_path):
    import json

    first = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--teacher",
        "none",
        "--model-config",
        '{"hidden": 16}',
        "--steps",
        "1",
        "--batch-size",
        "1",
        "--valid-items",
        "1",
        "--lr",
        "3e-4",
    ]
    assert runner.invoke(app, [*first, "-o", str(tmp_path / "first")]).exit_code == 0
    saved = tmp_path / "first" / "config.json"
    again = runner.invoke(
        app, ["train", "--config", str(saved), "-o", str(tmp_path / "again"), "--steps", "2", "--seed", "5"]
    )
    assert again.exit_code == 0, again.output
    a, b = json.loads(saved.read_text()), json.loads((tmp_path / "again" / "config.json").read_text())
    assert {k for k in a if a[k] != b[k]} == {"out", "steps", "seed"}  # everything else came from the file
    assert b["lr"] == 3e-4 and b["model"] == {"hidden": 16} and b["steps"] == 2 and b["seed"] == 5
    (tmp_path / "typo.json").write_text(json.dumps({**a, "batchsize": 4}))
    for args, message in (
        (["--config", str(tmp_path / "typo.json")], "unknown setting(s) batchsize"),
        (["--config", str(tmp_path / "none.json")], "no such config file"),
        (["--valid", "v.jsonl", "-o", str(tmp_path / "x")], "no --train given"),
    ):
        result = runner.invoke(app, ["train", *args])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.output


def test_train_help_shows_the_config_defaults():
    from cmkt.training.config import default_of

    result = runner.invoke(app, ["train", "--help"], terminal_width=250)
    assert result.exit_code == 0 and str(default_of("valid_every")) in result.output
    assert all(option in result.output for option in ("--batch-size", "--lr ", "--seed", "--grad-clip", "--config"))


def test_results_go_to_stdout_uncut_and_notes_to_stderr(tmp_path):
    """`cmkt score ... > table.txt` keeps the whole table, however long the names; `cmkt models | grep` works."""
    import os
    import subprocess
    import sys

    import numpy as np
    import soundfile as sf

    from tests.conftest import tone

    for folder in ("ref", "est"):
        (tmp_path / folder).mkdir()
    noise = 0.05 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    sf.write(tmp_path / "ref" / "a.wav", tone(1.0), 16000)
    sf.write(tmp_path / "est" / "a.wav", tone(1.0) + noise, 16000)
    name = "a_system_name_far_longer_than_any_terminal_column_would_allow_for_it"
    env = {**os.environ, "COLUMNS": "60"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "cmkt", *args], capture_output=True, text=True, env=env)  # noqa: E731
    scored = run(
        "score",
        "--ref",
        str(tmp_path / "ref"),
        "--est",
        f"{name}={tmp_path / 'est'}",
        "--metrics",
        "si_sdr,stoi",
        "--jobs",
        "1",
    )
    assert scored.returncode == 0, scored.stderr
    assert name in scored.stdout and "…" not in scored.stdout and "mean scores" in scored.stdout
    assert "mean scores" not in scored.stderr
    listed = run("models")
    assert listed.returncode == 0 and "stft-mask-gru" in listed.stdout and "stft-mask-gru" not in listed.stderr


def test_cli_conventions_version_short_help_flags_without_values_and_help_everywhere():
    import typer.main

    from cmkt import __version__

    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"cmkt {__version__}"
    short = runner.invoke(app, ["enhance", "-h"], terminal_width=200)
    assert short.exit_code == 0 and "--overwrite" in short.output
    prep_help = runner.invoke(app, ["prep", "--help"], terminal_width=200).output
    check_line = next(line for line in prep_help.splitlines() if "--check" in line and "Validate" in line)
    assert "<bool>" not in check_line  # a flag takes no value
    help_line = next(line for line in prep_help.splitlines() if "--help" in line and "Show this message" in line)
    assert "<bool>" not in help_line
    assert "layouts below" not in prep_help
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for param in command.params:
            assert getattr(param, "help", None), f"cmkt {name}: {param.name} has no help text"


def test_enhance_keeps_the_band_above_8_khz_unless_told_band_low(tmp_path):
    import numpy as np
    import soundfile as sf
    from scipy.signal import welch

    rng = np.random.default_rng(5)
    seconds, rate = 1.5, 48000
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 60)) * (t % 0.5 < 0.3)
    sf.write(tmp_path / "in.wav", (0.1 * voice + 0.002 * rng.standard_normal(len(t))).astype(np.float32), rate)
    above = {}
    for band in ("full", "low"):
        result = CliRunner().invoke(
            app, ["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / band), "--band", band]
        )
        assert result.exit_code == 0, result.output
        written, written_rate = sf.read(tmp_path / band / "in.wav")
        assert written_rate == rate and len(written) == len(t)
        freqs, power = welch(written, rate, nperseg=2048)
        above[band] = 10 * np.log10(power[freqs > 9000].sum() / power.sum())
    assert above["full"] > above["low"] + 30
    result = CliRunner().invoke(app, ["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "x"), "--band", "mid"])
    assert result.exit_code != 0 and "--band mid: choose full" in result.output
