"""`cmkt report`: the listening page's content, and the page opened in headless Chromium."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.evaluation.listening import LISTENING_LUFS, listening_gain


def _invoke(*args):
    result = CliRunner().invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def page(scored_corpus, tmp_path_factory):
    """Scores of noisy, half and fifth with groups, and the page made from them (its folder moved once,
    so any absolute path into the old place would break)."""
    root = tmp_path_factory.mktemp("listening")
    scores = root / "scores"
    _invoke(
        "score", "--manifest", str(scored_corpus / "test.jsonl"), "--est", f"half={scored_corpus / 'half'}",
        "--est", f"fifth={scored_corpus / 'fifth'}", "--metrics", "si_sdr,stoi", "--by", "lang,snr_band",
        "--jobs", "1", "-o", str(scores),
    )  # fmt: skip
    result = _invoke("report", str(scores), "-o", str(root / "made"), "--max-files", "3")
    assert str(root / "made" / "index.html") in result.output
    shutil.move(root / "made", root / "moved")
    return root / "moved", scores


def test_the_page_has_a_player_and_a_spectrogram_per_file_and_system(page):
    folder, _ = page
    text = (folder / "index.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="file" data-file="([^"]+)">(.*?)</section>', text, re.S)
    assert len(sections) == 3
    for _, body in sections:
        systems = re.findall(r'<div class="clip" data-system="([^"]+)">', body)
        assert systems == ["noisy", "half", "fifth", "clean"]
        audio = re.findall(r'<audio controls preload="metadata" src="([^"]+)"', body)
        images = re.findall(r'<img src="([^"]+)" alt="spectrogram', body)
        assert len(audio) == len(images) == 4
        for link in audio + images:
            assert (folder / link).stat().st_size > 0
    for link in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert not link.startswith(("/", "http:", "https:", "file:", "//")) and ":" not in link, link
    assert str(folder.parent) not in text


def test_the_selection_covers_best_and_worst_and_each_group_and_says_when_capped(page):
    folder, _ = page
    text = (folder / "index.html").read_text(encoding="utf-8")
    assert (
        "best stoi gain of half" in text and "worst stoi gain of fifth" in text
    )  # STOI: the first preferred metric scored
    assert "3 of the 5 files the selection found are shown (cap: --max-files 3)" in text


def test_the_page_scores_match_summary_json_and_scores_csv(page):
    folder, scores = page
    summary = json.loads((scores / "summary.json").read_text())
    text = (folder / "index.html").read_text(encoding="utf-8")
    table = re.search(r'<table id="summary">(.*?)</table>', text, re.S)[1]
    for system, values in summary["systems"].items():
        cells = re.search(rf"<tr><td>{system}</td>(.*?)</tr>", table)[1]
        for metric in ("si_sdr", "stoi"):
            assert f"{values[metric]['mean']:.3f} ± {values[metric]['ci95']:.3f}" in cells
    per_file = {(r["system"], r["file"]): r for r in __import__("csv").DictReader((scores / "scores.csv").open())}
    key = re.search(r'<section class="file" data-file="([^"]+)">', text)[1]
    half = re.search(rf'data-file="{key}">.*?data-system="half">.*?<div class="scores">(.*?)</div>', text, re.S)[1]
    assert f"si_sdr {float(per_file[('half', key)]['si_sdr']):.3f}" in half


def test_clips_are_what_was_scored_turned_to_the_listening_level(page, scored_corpus):
    folder, _ = page
    text = (folder / "index.html").read_text(encoding="utf-8")
    key = re.search(r'<section class="file" data-file="([^"]+)">', text)[1]
    src = re.search(rf'data-file="{key}">.*?data-system="half">.*?src="([^"]+)"', text, re.S)[1]
    played, rate = sf.read(folder / src)
    scored, scored_rate = sf.read(scored_corpus / "half" / f"{key}.wav")
    assert rate == scored_rate and len(played) == len(scored)
    ratio = np.dot(played, scored) / np.dot(scored, scored)  # a gain, nothing else
    assert np.allclose(played, ratio * scored, atol=2e-4)
    assert abs(listening_gain(played, rate)) < 0.5 or np.max(np.abs(played)) > 0.95  # at LUFS target unless peak-held


def test_listening_gain_reaches_the_target_and_never_clips():
    rate = 16000
    quiet = (0.01 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)).astype(np.float32)
    gain = listening_gain(quiet, rate)
    assert abs(listening_gain(quiet * 10 ** (gain / 20), rate)) < 0.1
    spiky = quiet.copy()
    spiky[100] = 0.9
    louder = spiky * 10 ** (listening_gain(spiky, rate) / 20)
    assert np.max(np.abs(louder)) <= 0.99 + 1e-6 and LISTENING_LUFS < 0


def test_files_picks_the_rows_and_an_unknown_name_is_one_line(page, tmp_path):
    _, scores = page
    _invoke("report", str(scores), "-o", str(tmp_path / "two"), "--files", "u1,u6")
    text = (tmp_path / "two" / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'data-file="([^"]+)"', text) == ["u1", "u6"]
    bad = CliRunner().invoke(app, ["report", str(scores), "-o", str(tmp_path / "bad"), "--files", "nope"])
    assert bad.exit_code == 1 and "nope" in bad.output and "Traceback" not in bad.output


def test_a_score_folder_without_an_audio_index_names_the_fix(page, tmp_path):
    _, scores = page
    old = tmp_path / "old"
    shutil.copytree(scores, old)
    (old / "audio.json").unlink()
    result = CliRunner().invoke(app, ["report", str(old), "-o", str(tmp_path / "page")])
    assert result.exit_code == 1 and "no audio index" in result.output and "cmkt score" in result.output


def _chromium() -> str:
    """The chromium binary, installed from Debian when absent (skips only where it cannot be installed)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get"):  # an out-of-date package index is refreshed once, then the install is tried again
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
    found = shutil.which("chromium")
    if not found:
        pytest.skip("headless Chromium is not installed and `apt-get install chromium` failed here")
    return found


def test_chromium_opens_the_page_draws_it_and_loads_every_player(page, tmp_path):
    folder, _ = page
    browser = _chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
             "--virtual-time-budget=15000", f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    url = (folder / "index.html").as_uri()
    phone = ["--window-size=390,1600"]  # a phone's width: the page must not scroll sideways
    dom = subprocess.run(
        [browser, *flags, *phone, "--dump-dom", url], capture_output=True, text=True, timeout=180
    ).stdout
    status = re.search(
        r'id="audio-status"[^>]*data-ready="(\d+)" data-failed="(\d+)" data-total="(\d+)" '
        r'data-fits="(\w+)"',
        dom,
    )
    assert status, dom[:2000]
    ready, failed, total = map(int, status.groups()[:3])
    assert total > 0 and ready == total and failed == 0 and status[4] == "true"
    shot = tmp_path / "page.png"
    subprocess.run([browser, *flags, *phone, f"--screenshot={shot}", url], capture_output=True,
                   timeout=180)  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05  # text, players and spectrograms: not a blank page
