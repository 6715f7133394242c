"""Every numeric training flag is checked at start: one line naming the flag, its value and its range."""

import pytest
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.errors import CmktError
from cmkt.training.config import RANGES, TrainConfig

runner = CliRunner()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--shift-ms", "-50", "--shift-ms -50: must be at least 0"),
        ("--shift-prob", "1.5", "--shift-prob 1.5: must be in [0, 1]"),
        ("--alpha", "nan", "--alpha nan: must be in [0, 1]"),
        ("--lr", "-1e-3", "--lr -0.001: must be at least 0"),
        ("--batch-size", "0", "--batch-size 0: must be at least 1"),
        ("--valid-every", "0", "--valid-every 0: must be at least 1"),
        ("--max-seconds", "-1", "--max-seconds -1: must be above 0"),
        ("--ot-eps", "0", "--ot-eps 0: must be above 0"),
        ("--ssl-weight", "2", "--ssl-weight 2: must be in [0, 1]"),
        ("--workers", "-2", "--workers -2: must be at least 0"),
    ],
)
def test_a_numeric_flag_out_of_range_is_one_line_before_any_work(tmp_path, flag, value, message):
    result = runner.invoke(
        app,
        [
            "train",
            "--train",
            str(tmp_path / "missing.jsonl"),
            "--valid",
            str(tmp_path / "missing.jsonl"),
            "-o",
            str(tmp_path / "run"),
            flag,
            value,
        ],
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "run").exists()


def test_every_numeric_setting_has_a_range_and_its_default_lies_inside():
    numeric = [f for f, spec in TrainConfig.__dataclass_fields__.items() if spec.type in ("int", "float") and f != "_"]
    assert sorted(numeric) == sorted(RANGES)
    TrainConfig("t", "v", "o")  # the defaults pass their own checks
    with pytest.raises(CmktError, match="--steps 0: must be at least 1"):
        TrainConfig("t", "v", "o", steps=0)
