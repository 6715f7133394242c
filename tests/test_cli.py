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
    result = runner.invoke(app, ["train", "--train", str(tmp_path / "nope.jsonl"), "--valid", str(tmp_path / "nope.jsonl"),
                                 "-o", str(tmp_path / "run"), "--teacher", "none"])
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and "nope.jsonl" in lines[0] and "error" in lines[0]


def test_models_lists_the_architecture():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "stft-mask-gru" in result.output


def test_train_reads_an_augment_list_and_its_shorthand_flags(prepared, tmp_path):
    import json

    base = ["train", "--train", str(prepared / "train.jsonl"), "--valid", str(prepared / "valid.jsonl"), "--teacher", "none",
            "--model-config", '{"hidden": 16}', "--steps", "1", "--batch-size", "1", "--valid-items", "1", "--dynamic-mixing"]
    bad = runner.invoke(app, [*base, "-o", str(tmp_path / "bad"), "--augment", "nosie"])
    lines = [l for l in bad.output.splitlines() if l.strip()]
    assert bad.exit_code == 1 and len(lines) == 1 and "unknown augmentation 'nosie'" in lines[0]
    result = runner.invoke(app, [*base, "-o", str(tmp_path / "run"), "--augment", "level=0.5", "--noise-augment"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["augment"] == "noise,level=0.5"


def test_train_takes_its_settings_from_a_config_file_and_flags_override_it(prepared, tmp_path):
    import json

    first = ["train", "--train", str(prepared / "train.jsonl"), "--valid", str(prepared / "valid.jsonl"), "--teacher", "none",
             "--model-config", '{"hidden": 16}', "--steps", "1", "--batch-size", "1", "--valid-items", "1", "--lr", "3e-4"]
    assert runner.invoke(app, [*first, "-o", str(tmp_path / "first")]).exit_code == 0
    saved = tmp_path / "first" / "config.json"
    again = runner.invoke(app, ["train", "--config", str(saved), "-o", str(tmp_path / "again"), "--steps", "2", "--seed", "5"])
    assert again.exit_code == 0, again.output
    a, b = json.loads(saved.read_text()), json.loads((tmp_path / "again" / "config.json").read_text())
    assert {k for k in a if a[k] != b[k]} == {"out", "steps", "seed"}  # everything else came from the file
    assert b["lr"] == 3e-4 and b["model"] == {"hidden": 16} and b["steps"] == 2 and b["seed"] == 5
    (tmp_path / "typo.json").write_text(json.dumps({**a, "batchsize": 4}))
    for args, message in ((["--config", str(tmp_path / "typo.json")], "unknown setting(s) batchsize"),
                          (["--config", str(tmp_path / "none.json")], "no such config file"),
                          (["--valid", "v.jsonl", "-o", str(tmp_path / "x")], "no --train given")):
        result = runner.invoke(app, ["train", *args])
        lines = [l for l in result.output.splitlines() if l.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.output


def test_train_help_shows_the_config_defaults():
    from cmkt.training.config import default_of

    result = runner.invoke(app, ["train", "--help"], terminal_width=250)
    assert result.exit_code == 0 and str(default_of("valid_every")) in result.output
    assert all(option in result.output for option in ("--batch-size", "--lr ", "--seed", "--grad-clip", "--config"))
