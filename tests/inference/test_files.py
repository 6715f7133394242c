import subprocess
import sys

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
    result = CliRunner().invoke(app, ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path), "--model", str(trained_model), "--overwrite"])
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
    result = CliRunner().invoke(app, ["enhance", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--model", "tiny-demo"])
    assert result.exit_code == 0 and (tmp_path / "out" / "a.wav").is_file()


def test_missing_input_is_reported_by_name(trained_model, tmp_path):
    result = CliRunner().invoke(app, ["enhance", str(tmp_path / "typo_folder"), "-o", str(tmp_path / "out"), "--model", str(trained_model)])
    assert result.exit_code == 1 and "typo_folder: no such file or folder" in result.output
