"""The shipped default model: found by name, documented, small, and it really removes noise."""

import csv

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.data.mixing import mix_at_snr
from recipes.quickstart.noise_gen import coloured_noise
from cmkt.evaluation.metrics import score_signals
from cmkt.pretrained import DEFAULT_MODEL, PRETRAINED_DIR
from cmkt.registry import load_model, model_dirs, read_checkpoint, resolve_model


def test_shipped_model_is_registered_small_and_documented():
    path = resolve_model(DEFAULT_MODEL)
    # small enough to ship in the package: s7's (and s6's) 4.09 M float32 weights are 16.4 MB
    # (float16 would change the outputs that were scored)
    assert path.parent == PRETRAINED_DIR and path.stat().st_size < 20e6
    model, meta = load_model(path)
    assert meta["sample_rate"] == 16000 and meta["name"] == DEFAULT_MODEL and "recipe" in meta
    weights = read_checkpoint(path)["state_dict"]  # load_model's meta leaves the weights out: read them from the file
    assert weights.keys() == model.state_dict().keys() and not any(
        "bridge" in key for key in weights
    )  # inference weights only
    card = (PRETRAINED_DIR / f"{DEFAULT_MODEL}.md").read_text(encoding="utf-8")
    for section in ("Training data", "Training", "Scores", "Licence"):
        assert f"## {section}" in card


def test_a_user_model_of_the_same_name_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("CMKT_MODELS", str(tmp_path))
    assert model_dirs()[0] == tmp_path and model_dirs()[-1] == PRETRAINED_DIR
    (tmp_path / f"{DEFAULT_MODEL}.pt").write_bytes(resolve_model(DEFAULT_MODEL).read_bytes())
    assert resolve_model(DEFAULT_MODEL) == tmp_path / f"{DEFAULT_MODEL}.pt"


def _noisy_speech(speech: np.ndarray, rate: int, seed: int, snr_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(reference, noisy): pink noise at `snr_db` on active speech."""
    rng = np.random.default_rng(seed)
    return mix_at_snr(speech, coloured_noise(len(speech), 1.0, rng), snr_db, rate, rng)


def test_enhance_without_model_uses_the_shipped_one_and_removes_noise(speech_corpus, tmp_path):
    speech, rate = sf.read(speech_corpus.parent / "f_0.wav", dtype="float32")
    speech, noisy = _noisy_speech(speech, rate, 0)
    sf.write(tmp_path / "noisy.wav", noisy, rate)
    result = CliRunner().invoke(app, ["enhance", str(tmp_path / "noisy.wav"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    enhanced, out_rate = sf.read(tmp_path / "out" / "noisy.wav", dtype="float32")
    assert out_rate == rate and enhanced.shape == noisy.shape
    before = score_signals(speech, noisy, rate, ("si_sdr",))["si_sdr"]
    after = score_signals(speech, enhanced, rate, ("si_sdr",))["si_sdr"]
    assert after > before + 3.0  # pink noise at 0 dB: several dB cleaner


def test_shipped_model_improves_pesq_and_stoi_on_real_test_speech(shared_data):
    """Twenty held-out recordings (test split, all five languages) in pink noise at 5 dB."""
    from cmkt.inference.enhancer import enhance_array, load_enhancer

    with (shared_data / "speech" / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == "test"]
    enhancer = load_enhancer(DEFAULT_MODEL, threads=1)
    gains = {"pesq_wb": [], "stoi": []}
    for index, row in enumerate(
        [r for lang in ("en", "es", "fr", "it", "ru") for r in rows if r["lang"] == lang][::13]
    ):
        speech, rate = sf.read(shared_data / row["path"], dtype="float32")
        speech, noisy = _noisy_speech(speech, rate, index, snr_db=5.0)
        enhanced = enhance_array(enhancer, noisy, rate)
        for metric in gains:
            gains[metric].append(
                score_signals(speech, enhanced, rate, (metric,))[metric]
                - score_signals(speech, noisy, rate, (metric,))[metric]
            )
    assert np.mean(gains["pesq_wb"]) > 0.1 and np.mean(gains["stoi"]) > 0.0, {k: np.mean(v) for k, v in gains.items()}


@pytest.mark.parametrize("flag", ["--streaming"])
def test_shipped_model_streams(speech_corpus, tmp_path, flag):
    speech, rate = sf.read(speech_corpus.parent / "m_1.wav", dtype="float32")
    sf.write(tmp_path / "noisy.wav", _noisy_speech(speech, rate, 1)[1], rate)
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "noisy.wav"), "-o", str(tmp_path / "out"), flag], terminal_width=200
    )
    assert result.exit_code == 0 and "latency" in result.output.lower(), result.output


@pytest.mark.parametrize(
    "name, hidden",
    [("cmkt-base-16k-v1", 256), ("cmkt-base-16k-s3", 384), ("cmkt-base-16k-s5", 384), ("cmkt-base-16k-s6", 384)],
)
def test_the_previous_defaults_stay_installable_by_name(name, hidden):
    path = resolve_model(name)
    assert path.parent == PRETRAINED_DIR and (PRETRAINED_DIR / f"{name}.md").is_file()
    model, meta = load_model(path)
    assert meta["name"] == name and meta["config"]["hidden"] == hidden
    default = read_checkpoint(resolve_model(DEFAULT_MODEL))
    assert default["config"]["refine_layers"] == 2 and "RUN=s7" in default["recipe"]  # the default is v2 run s7
