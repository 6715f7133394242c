"""A model file never runs code, Markdown never renders a name as HTML, outputs stay inside -o."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

import cmkt
from cmkt.cli import app
from cmkt.errors import CmktError
from cmkt.inference.files import plan_outputs
from cmkt.registry import load_model, read_checkpoint

from tests.conftest import tone

HTML_NAME = "<img src=x onerror=alert(1)>"


class _RunsCode:
    """Unpickling this calls os.system: what a malicious model file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def evil(tmp_path, trained_model):
    """A checkpoint that looks like a real one but carries the payload; and the marker it would write."""
    marker = tmp_path / "PWNED"
    payload = torch.load(trained_model, weights_only=True)
    payload["metrics"] = {"val_pesq_wb": _RunsCode(marker)}
    path = tmp_path / "evil.pt"
    torch.save(payload, path)
    torch.load(path, weights_only=False)  # the payload is live: the unsafe load runs it
    assert marker.exists()
    marker.unlink()
    return path, marker


def _invoke(args, **env):
    return CliRunner().invoke(app, args, env=env or None, terminal_width=300)


def _one_line_refusal(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if "not a safe CMKT checkpoint" in line]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_enhance_refuses_a_model_file_that_runs_code(evil, tmp_path):
    path, marker = evil
    sf.write(tmp_path / "in.wav", tone(), 16000)
    _one_line_refusal(_invoke(["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out"), "--model", str(path)]))
    assert not marker.exists()


def test_python_api_and_load_model_refuse_it(evil):
    path, marker = evil
    for load in (cmkt.load_enhancer, load_model, read_checkpoint):
        with pytest.raises(CmktError, match="not a safe CMKT checkpoint"):
            load(path)
    assert not marker.exists()


def test_init_and_resume_refuse_it(evil, prepared, tmp_path):
    path, marker = evil
    common = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--valid-every",
        "2",
        "--valid-items",
        "1",
        "--teacher",
        "none",
    ]
    _one_line_refusal(_invoke([*common, "-o", str(tmp_path / "init"), "--init", str(path)]))
    run = tmp_path / "resumed"
    run.mkdir()
    state = {"model": {}, "step": _RunsCode(marker), "config": {}}
    torch.save(state, run / "checkpoint.pt")
    _one_line_refusal(_invoke([*common, "-o", str(run), "--resume"]))
    assert not marker.exists()


def test_models_lists_it_as_unreadable_without_running_it(evil, tmp_path, monkeypatch):
    from cmkt.util.progress import console

    monkeypatch.setattr(console, "width", 300)  # one table row per line
    path, marker = evil
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(path, folder / "shared-by-a-stranger.pt")
    result = _invoke(["models"], CMKT_MODELS=str(folder))
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "shared-by-a-stranger" in line)
    assert "unreadable: not a safe CMKT checkpoint" in row
    assert not marker.exists()


def test_the_shipped_model_and_numpy_metrics_still_load(trained_model, tmp_path):
    assert read_checkpoint(cmkt.registry.resolve_model("cmkt-base-16k"))["arch"] == "stft-mask-gru"
    payload = torch.load(trained_model, weights_only=True)
    payload["metrics"] = {"val_pesq_wb": np.float64(1.5)}  # what an older run wrote
    torch.save(payload, tmp_path / "old.pt")
    assert read_checkpoint(tmp_path / "old.pt")["metrics"]["val_pesq_wb"] == 1.5


def test_a_trusted_old_checkpoint_is_upgraded_once_by_request(trained_model, tmp_path):
    payload = torch.load(trained_model, weights_only=True)
    payload["extra"] = _Legacy(3)  # a foreign type: refused by the safe load
    torch.save(payload, tmp_path / "legacy.pt")
    with pytest.raises(CmktError, match="upgrade-checkpoint"):
        read_checkpoint(tmp_path / "legacy.pt")
    refused = _invoke(["upgrade-checkpoint", str(tmp_path / "legacy.pt"), str(tmp_path / "new.pt")])
    assert refused.exit_code != 0 and "--trust" in refused.output
    done = _invoke(["upgrade-checkpoint", str(tmp_path / "legacy.pt"), str(tmp_path / "new.pt"), "--trust"])
    assert done.exit_code == 0, done.output
    assert read_checkpoint(tmp_path / "new.pt")["extra"] == {"steps": 3}


@dataclasses.dataclass
class _Legacy:
    steps: int


def test_html_in_system_names_is_escaped_in_markdown(tmp_path):
    ref, est = tmp_path / "ref", tmp_path / "est"
    for folder, level in ((ref, 0.0), (est, 0.01)):
        folder.mkdir()
        rng = np.random.default_rng(0)
        sf.write(folder / f"{HTML_NAME}.wav", tone(2.0) + level * rng.standard_normal(32000).astype(np.float32), 16000)
    result = _invoke(
        ["score", "--ref", str(ref), "--est", f"{HTML_NAME}={est}", "--metrics", "si_sdr", "-o", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "s" / "summary.md").read_text(encoding="utf-8")
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    report = _invoke(["compare", str(tmp_path / "s"), "--reference", HTML_NAME, "-o", str(tmp_path / "r")])
    assert report.exit_code == 0, report.output
    assert "<img" not in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    page = _invoke(["report", str(tmp_path / "s"), "-o", str(tmp_path / "page")])
    assert page.exit_code == 0, page.output
    html = (tmp_path / "page" / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # the name as text, never a tag
    assert all(path.parent.parent == tmp_path / "page" for path in (tmp_path / "page").glob("*/*"))  # files stay in -o


def test_mirrored_outputs_never_climb_out_of_the_output_folder(tmp_path):
    (tmp_path / "rec" / "a").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    sf.write(tmp_path / "secret" / "x.wav", tone(), 16000)
    out = tmp_path / "rec" / "out"
    with pytest.raises(CmktError, match="outside"):
        plan_outputs([str(tmp_path / "rec" / "*" / ".." / ".." / "secret" / "*.wav")], out)
    with pytest.raises(CmktError, match="path separator"):
        plan_outputs([tmp_path / "secret" / "x.wav"], out, suffix="/../../x")
    inside = plan_outputs([tmp_path / "secret" / "x.wav"], out, suffix="_clean")
    assert inside[0][1] == out / "x_clean.wav"
