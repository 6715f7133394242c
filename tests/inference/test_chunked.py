import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.inference.chunked import ChunkedEnhancer
from cmkt.registry import build_model, save_checkpoint
from tests.conftest import push_in_blocks
from tests.models.test_backbones import SMALL


def _run(enhancer, signal, rng):
    return push_in_blocks(enhancer, signal, rng.integers(100, 9000, 100).tolist())


@pytest.mark.parametrize("name,tolerance", [("conv-tasnet", 0.01), ("conformer-mask", 0.1)])
def test_overlap_add_stays_close_to_the_whole_signal(name, tolerance):
    torch.manual_seed(0)
    model = build_model(name, SMALL[name]).eval()
    signal = (0.1 * np.random.default_rng(0).standard_normal((1, 16000 * 6))).astype(np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(signal))[0].numpy()
    chunked = _run(ChunkedEnhancer(model, 1, 32000, 8000), signal, np.random.default_rng(1))
    assert chunked.shape == whole.shape
    assert np.sqrt(np.mean((chunked - whole) ** 2)) / np.sqrt(np.mean(whole**2)) < tolerance  # measured: 0.0008, 0.04


def test_a_signal_shorter_than_one_window_is_enhanced_whole():
    torch.manual_seed(0)
    model = build_model("conv-tasnet", SMALL["conv-tasnet"]).eval()
    signal = (0.1 * np.random.default_rng(2).standard_normal((2, 20000))).astype(np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(signal))[0].numpy()
    np.testing.assert_allclose(
        _run(ChunkedEnhancer(model, 2, 32000, 8000), signal, np.random.default_rng(3)), whole, atol=1e-6
    )


def test_enhance_and_export_with_a_non_causal_model(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tasnet.pt", build_model("conv-tasnet", SMALL["conv-tasnet"]), "conv-tasnet")
    sf.write(
        tmp_path / "long.wav",
        (0.1 * np.random.default_rng(0).standard_normal((16000 * 20, 2))).astype(np.float32),
        16000,
    )
    result = CliRunner().invoke(
        app,
        [
            "enhance",
            str(tmp_path / "long.wav"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "tasnet.pt"),
            "--block-seconds",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sf.info(str(tmp_path / "out" / "long.wav")).frames == 16000 * 20
    refused = CliRunner().invoke(app, ["export", str(tmp_path / "tasnet.pt"), "-o", str(tmp_path / "m.onnx")])
    assert refused.exit_code == 1 and "only causal (streaming) models can be exported" in refused.output
    streaming = CliRunner().invoke(
        app,
        [
            "enhance",
            str(tmp_path / "long.wav"),
            "-o",
            str(tmp_path / "s"),
            "--model",
            str(tmp_path / "tasnet.pt"),
            "--streaming",
        ],
        terminal_width=300,
    )
    assert streaming.exit_code == 1 and "--streaming: this model (conv-tasnet) is not causal" in streaming.output
    assert not (tmp_path / "s").exists()
