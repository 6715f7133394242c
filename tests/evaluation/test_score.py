import json
import math

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.evaluation.metrics import pesq_score, score_signals, si_sdr
from cmkt.evaluation.score import pairs_from_folders, score_pairs
from tests.conftest import tone


def test_metrics_order_clean_above_noisy(speech_corpus):
    clean, rate = sf.read(speech_corpus.parent / "f_0.wav")
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(len(clean))
    good = score_signals(clean, clean, rate)
    bad = score_signals(clean, noisy, rate)
    assert good["pesq_wb"] > 4.5 and good["stoi"] > 0.99
    for metric in ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr"):
        assert bad[metric] < good[metric]


def test_si_sdr_matches_torchmetrics():
    import torch
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    rng = np.random.default_rng(5)
    for level in (0.01, 0.3, 2.0):
        clean = rng.standard_normal(16000)
        estimate = clean + level * rng.standard_normal(16000)
        theirs = scale_invariant_signal_distortion_ratio(
            torch.from_numpy(estimate), torch.from_numpy(clean), zero_mean=True
        )
        assert abs(si_sdr(clean, estimate) - float(theirs)) < 1e-4


def test_snr_gain_of_halving_the_noise_is_six_db():
    clean = tone()
    noise = 0.1 * np.random.default_rng(0).standard_normal(len(clean))
    scores = score_signals(clean, clean + noise / 2, 16000, ("snr", "snr_gain"), noisy=clean + noise)
    assert abs(scores["snr_gain"] - 20 * math.log10(2)) < 1e-6


def test_si_sdr_is_scale_invariant_and_known():
    x = tone()
    noise = np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) / 10  # 20 dB below
    assert abs(si_sdr(x, 3.0 * (x + noise)) - si_sdr(x, x + noise)) < 1e-6
    assert abs(si_sdr(x, x + noise) - 20.0) < 0.3


def test_folder_scoring_reports_missing_and_silent_files(tmp_path, speech_corpus):
    clean, rate = sf.read(speech_corpus.parent / "f_1.wav")
    for name in ("ref", "est"):
        (tmp_path / name).mkdir()
    for stem in ("a", "b", "c"):
        sf.write(tmp_path / "ref" / f"{stem}.wav", clean, rate)
    sf.write(tmp_path / "est" / "a.wav", clean, rate)
    sf.write(tmp_path / "est" / "b.wav", np.zeros_like(clean), rate)
    result = score_pairs(pairs_from_folders(tmp_path / "ref", tmp_path / "est"), metrics=("stoi",))
    assert len(result.ok) == 1 and len(result.failed) == 2
    cli = CliRunner().invoke(
        app,
        [
            "score",
            "--ref",
            str(tmp_path / "ref"),
            "--est",
            f"x={tmp_path / 'est'}",
            "--metrics",
            "stoi",
            "-o",
            str(tmp_path / "report"),
            "--jobs",
            "1",
        ],
    )
    assert cli.exit_code == 1 and "no estimate" in cli.output
    assert (tmp_path / "report" / "scores.csv").read_text().count("\n") == 4


def test_pesq_reproduces_the_reference_values(shared_data):
    refs = json.loads((shared_data / "scorer_refs" / "ludlows_pesq.json").read_text())
    ref, rate = sf.read(shared_data / refs["reference"])
    deg, _ = sf.read(shared_data / refs["degraded"])
    assert pesq_score(ref, deg, rate, "wb") == refs["expected"]["wb"]
    assert pesq_score(ref, deg, rate, "nb") == refs["expected"]["nb"]


def test_pesq_matches_itu_p862_conformance(shared_data):
    pairs = json.loads((shared_data / "scorer_refs" / "itu_p862.json").read_text())["pairs"]
    assert len(pairs) == 40
    for pair in pairs:
        ref, rate = sf.read(shared_data / pair["reference"])
        deg, _ = sf.read(shared_data / pair["degraded"])
        mos = pesq_score(ref, deg, rate, "nb")
        raw = (4.6607 - math.log((4.999 - mos) / (mos - 0.999))) / 1.4945
        assert abs(raw - pair["p862_raw_expected"]) < 1e-3, pair


def test_dnsmos_on_one_thread_per_worker_scores_as_speechmos_does(speech_corpus, tmp_path):
    """cmkt builds DNSMOS's onnxruntime sessions itself (one thread in `--jobs` workers): the scores
    must stay those of speechmos's own entry point, in one process and across workers."""
    dnsmos = pytest.importorskip("speechmos.dnsmos")
    from cmkt.evaluation.metrics import dnsmos_scores
    from cmkt.evaluation.score import Pair

    from cmkt.audio import resample

    clean, source_rate = sf.read(speech_corpus.parent / "f_0.wav", dtype="float32")
    rate = 16000  # speechmos's own entry point takes 16 kHz only
    clean = resample(clean[None], source_rate, rate)[0]
    noisy = np.clip(clean + 0.05 * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32), -1, 1)
    expected = {}
    for name, signal in (("clean", clean), ("noisy", noisy)):
        sf.write(tmp_path / f"{name}.wav", signal, rate, subtype="FLOAT")
        own = dnsmos.run(signal, rate)
        expected[name] = own["ovrl_mos"]
        ours = dnsmos_scores(signal, rate, threads=1)
        assert ours["dnsmos_ovrl"] == pytest.approx(own["ovrl_mos"], abs=1e-5)
        assert ours["dnsmos_sig"] == pytest.approx(own["sig_mos"], abs=1e-5)
        assert ours["dnsmos_bak"] == pytest.approx(own["bak_mos"], abs=1e-5)
    assert expected["clean"] > expected["noisy"]
    pairs = [Pair(name, tmp_path / "clean.wav", tmp_path / f"{name}.wav") for name in ("clean", "noisy")]
    rows = score_pairs(pairs, "x", ("dnsmos_ovrl",), jobs=2).rows
    assert {row["file"]: row["error"] for row in rows} == {"clean": "", "noisy": ""}
    assert {row["file"]: row["dnsmos_ovrl"] for row in rows} == pytest.approx(expected, abs=1e-5)


def test_snr_bands_group_a_continuous_snr_draw():
    from cmkt.evaluation.score import snr_band

    assert [snr_band(x) for x in (-5.0, -2.3, 0.0, 4.99, 5.0, 14.2)] == [
        "-5..0",
        "-5..0",
        "0..5",
        "0..5",
        "5..10",
        "10..15",
    ]
    assert snr_band(None) == ""
