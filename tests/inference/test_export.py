import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.inference.export import step_inputs
from cmkt.registry import load_model


@pytest.fixture(scope="module")
def noisy_and_offline(trained_model):
    model, _ = load_model(trained_model)
    noisy = (0.1 * np.random.default_rng(2).standard_normal(16000 + 333)).astype(np.float32)
    with torch.no_grad():
        offline = model(torch.from_numpy(noisy)[None])[0][0].numpy()
    return noisy, offline


def test_onnx_export_runs_in_onnxruntime_and_matches_pytorch(trained_model, noisy_and_offline, tmp_path):
    pytest.importorskip("onnxruntime")
    from cmkt.inference.export import OnnxStream

    result = CliRunner().invoke(
        app, ["export", str(trained_model), "--format", "onnx", "-o", str(tmp_path / "m.onnx"), "--block-frames", "2"]
    )
    assert result.exit_code == 0, result.output
    import onnx

    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert not any(
        "bridge" in init.name or "project" in init.name for init in graph.initializer
    )  # inference graph only
    noisy, offline = noisy_and_offline
    stream = OnnxStream(tmp_path / "m.onnx")
    assert (stream.sample_rate, stream.block, stream.delay) == (16000, 256, 384)
    np.testing.assert_allclose(stream.enhance(noisy), offline, atol=1e-4)


def test_torchscript_export_matches_pytorch(trained_model, noisy_and_offline, tmp_path):
    result = CliRunner().invoke(
        app, ["export", str(trained_model), "--format", "torchscript", "-o", str(tmp_path / "m.ts")]
    )
    assert result.exit_code == 0, result.output
    step = torch.jit.load(str(tmp_path / "m.ts"))
    model, _ = load_model(trained_model)
    noisy, offline = noisy_and_offline
    _, input_tail, output_tail, *state = step_inputs(model, 1)
    padded = np.concatenate([noisy, np.zeros(384 + (-len(noisy) - 384) % 128, np.float32)])
    pieces = []
    with torch.no_grad():
        for start in range(0, len(padded), 128):
            out, input_tail, output_tail, *state = step(
                torch.from_numpy(padded[None, start : start + 128]), input_tail, output_tail, *state
            )
            pieces.append(out[0].numpy())
    np.testing.assert_allclose(np.concatenate(pieces)[384 : 384 + len(noisy)], offline, atol=1e-5)


def test_unknown_format_is_a_clear_error(trained_model, tmp_path):
    result = CliRunner().invoke(app, ["export", str(trained_model), "--format", "tflite", "-o", str(tmp_path / "m")])
    assert result.exit_code == 1 and "unknown export format 'tflite'" in result.output


@pytest.mark.parametrize("refine_layers", [0, 1])
def test_onnx_export_of_a_deep_filter_model_matches_pytorch(tmp_path, refine_layers):
    pytest.importorskip("onnxruntime")
    from cmkt.inference.export import OnnxStream, export_model
    from cmkt.registry import save_checkpoint
    from tests.conftest import deep_filter_model

    model = deep_filter_model(order=3, refine_layers=refine_layers)
    save_checkpoint(tmp_path / "df.pt", model, "stft-mask-gru")
    export_model(tmp_path / "df.pt", "onnx", tmp_path / "df.onnx", block_frames=2)
    noisy = (0.1 * np.random.default_rng(5).standard_normal(8000 + 50)).astype(np.float32)
    with torch.no_grad():
        offline = model(torch.from_numpy(noisy)[None])[0][0].numpy()
    np.testing.assert_allclose(OnnxStream(tmp_path / "df.onnx").enhance(noisy), offline, atol=1e-4)


def test_onnx_export_builds_the_post_filter_in(tmp_path):
    pytest.importorskip("onnxruntime")
    from cmkt.inference.export import OnnxStream
    from cmkt.registry import save_checkpoint
    from tests.conftest import deep_filter_model

    model = deep_filter_model(order=2, seed=1)
    save_checkpoint(tmp_path / "df.pt", model, "stft-mask-gru")
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "df.pt"), "-o", str(tmp_path / "pf.onnx"), "--post-filter", "0.1"]
    )
    assert result.exit_code == 0, result.output
    noisy = (0.1 * np.random.default_rng(6).standard_normal(8000 + 21)).astype(np.float32)
    model.post_filter_beta = 0.1
    with torch.no_grad():
        filtered = model(torch.from_numpy(noisy)[None])[0][0].numpy()
    exported = OnnxStream(tmp_path / "pf.onnx").enhance(noisy)
    np.testing.assert_allclose(exported, filtered, atol=1e-4)
    model.post_filter_beta = 0.0
    with torch.no_grad():
        plain = model(torch.from_numpy(noisy)[None])[0][0].numpy()
    assert np.abs(exported - plain).max() > 1e-3  # the graph holds the filter, not the plain model
