"""`cmkt score --manifest/--by/--shard` and `cmkt compare`: groups, merging shards, paired tests."""

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from tests.conftest import tone


def _score(root, out, *extra):
    args = [
        "score",
        "--manifest",
        str(root / "test.jsonl"),
        "--est",
        f"half={root / 'half'}",
        "--est",
        f"fifth={root / 'fifth'}",
        "--metrics",
        "si_sdr,snr_gain",
        "--jobs",
        "1",
        "-o",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result


def test_manifest_scoring_groups_by_language_and_snr(scored_corpus, tmp_path):
    _score(scored_corpus, tmp_path / "s", "--by", "lang,snr")
    rows = list(csv.DictReader((tmp_path / "s" / "scores.csv").open()))
    assert {r["system"] for r in rows} == {"noisy", "half", "fifth"} and len(rows) == 24
    for row in rows:
        expected = {"noisy": 0.0, "half": 20 * math.log10(2), "fifth": 20 * math.log10(1.25)}[row["system"]]
        assert abs(float(row["snr_gain"]) - expected) < 1e-3
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    french = [float(r["si_sdr"]) for r in rows if r["system"] == "half" and r["lang"] == "fr"]
    assert summary["groups"]["lang"]["fr"]["half"]["si_sdr"]["mean"] == pytest.approx(np.mean(french), abs=1e-3)
    assert summary["groups"]["lang"]["fr"]["half"]["si_sdr"]["n"] == 4
    assert set(summary["groups"]["snr"]) == {"0", "5"}
    assert "By lang" in (tmp_path / "s" / "summary.md").read_text()
    for plot in ("scores.png", "scores_by_lang.png", "scores_by_snr.png"):  # overall, and one per --by column
        assert (tmp_path / "s" / plot).stat().st_size > 0


def test_shards_merge_into_the_one_shot_result(scored_corpus, tmp_path):
    _score(scored_corpus, tmp_path / "whole")
    for k in (1, 2, 3):
        _score(scored_corpus, tmp_path / f"part{k}", "--shard", f"{k}/3")
    result = CliRunner().invoke(
        app, ["compare", *[str(tmp_path / f"part{k}") for k in (1, 2, 3)], "-o", str(tmp_path / "merged")]
    )
    assert result.exit_code == 0, result.output

    def table(folder):
        return {(r["system"], r["file"]): r["si_sdr"] for r in csv.DictReader((folder / "scores.csv").open())}

    assert table(tmp_path / "merged") == table(tmp_path / "whole")
    overlap = CliRunner().invoke(
        app, ["compare", str(tmp_path / "part1"), str(tmp_path / "whole"), "-o", str(tmp_path / "bad")]
    )
    assert overlap.exit_code == 1 and "already scored" in overlap.output


def test_compare_reports_paired_tests_and_the_language_gap(scored_corpus, tmp_path):
    _score(scored_corpus, tmp_path / "s")
    result = CliRunner().invoke(
        app, ["compare", str(tmp_path / "s"), "--reference", "fifth", "-o", str(tmp_path / "report")]
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Paired differences against fifth" in report and "Gain over noisy per language" in report
    half_row = next(line for line in report.splitlines() if line.startswith("| half |") and "p=" in line)
    si_sdr_cell = half_row.split("|")[2].strip()  # metrics are si_sdr, snr_gain
    assert abs(float(si_sdr_cell.split()[0]) - 20 * math.log10(0.8 / 0.5)) < 0.1  # noise 0.5 vs 0.8 of the original
    assert "p=0.0078" in si_sdr_cell  # all 8 differences positive: Wilcoxon's smallest two-sided p
    assert (tmp_path / "report" / "comparison.png").stat().st_size > 0
    bad = CliRunner().invoke(app, ["compare", str(tmp_path / "s"), "--reference", "nope", "-o", str(tmp_path / "r2")])
    assert bad.exit_code == 1 and "--reference 'nope'" in bad.output


def test_length_mismatch_warns_and_stereo_or_other_rates_still_score(tmp_path):
    clean = tone(1.0)
    (tmp_path / "ref").mkdir()
    (tmp_path / "est").mkdir()
    sf.write(tmp_path / "ref" / "a.wav", clean, 16000)
    sf.write(tmp_path / "ref" / "b.wav", clean, 16000)
    sf.write(tmp_path / "est" / "a.wav", clean[:15000], 16000)  # 62 ms short
    sf.write(tmp_path / "est" / "b.wav", np.stack([tone(1.0, 48000)] * 2, axis=1), 48000)  # stereo, 48 kHz
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--ref",
            str(tmp_path / "ref"),
            "--est",
            str(tmp_path / "est"),
            "--metrics",
            "si_sdr",
            "-o",
            str(tmp_path / "s"),
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 file(s) differed in length" in result.output
    rows = {r["file"]: r for r in csv.DictReader((tmp_path / "s" / "scores.csv").open())}
    assert "shorter than reference by 0.062 s" in rows["a"]["warning"]
    assert float(rows["b"]["si_sdr"]) > 30 and rows["b"]["warning"] == ""


def test_dnsmos_scores_clean_speech_above_noisy_or_says_how_to_install(shared_data, tmp_path):
    from cmkt.evaluation.metrics import dnsmos_available

    rows = list(csv.DictReader((shared_data / "speech" / "manifest.tsv").open(encoding="utf-8"), delimiter="\t"))
    speech, rate = sf.read(shared_data / rows[0]["path"], dtype="float32")
    (tmp_path / "ref").mkdir()
    (tmp_path / "noisy").mkdir()
    sf.write(tmp_path / "ref" / "a.wav", speech, rate)
    noisy = np.clip(speech + 0.1 * np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32), -1, 1)
    sf.write(tmp_path / "noisy" / "a.wav", noisy, rate)
    scores = {}
    for name in ("ref", "noisy"):
        result = CliRunner().invoke(
            app,
            [
                "score",
                "--ref",
                str(tmp_path / "ref"),
                "--est",
                str(tmp_path / name),
                "--jobs",
                "1",
                "--metrics",
                "stoi,dnsmos_ovrl,dnsmos_bak",
                "-o",
                str(tmp_path / f"s_{name}"),
            ],
        )
        assert result.exit_code == 0, result.output
        scores[name] = next(csv.DictReader((tmp_path / f"s_{name}" / "scores.csv").open()))
    if not dnsmos_available():
        assert "pip install 'cmkt[dnsmos]'" in result.output and "dnsmos_ovrl" not in scores["ref"]
        return
    assert float(scores["ref"]["dnsmos_bak"]) > float(scores["noisy"]["dnsmos_bak"]) + 1.0
    assert float(scores["ref"]["dnsmos_ovrl"]) > float(scores["noisy"]["dnsmos_ovrl"])
