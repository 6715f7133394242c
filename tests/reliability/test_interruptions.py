"""kill -9 in the middle of train, enhance and prep; a full disk. Nothing is lost, reruns finish the job."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

CMKT = [sys.executable, "-m", "cmkt"]


def run_and_kill(args: list[str], when, delay_s: float = 0.0, timeout_s: float = 300.0) -> bool:
    """Start `cmkt ARGS` and SIGKILL it `delay_s` after `when()` first holds (progress, not a clock,
    so the kill lands mid-run on a fast or a loaded machine); True if it was killed before finishing."""
    process = subprocess.Popen(CMKT + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and not when() and time.monotonic() < deadline:
        time.sleep(0.005)
    if delay_s and process.poll() is None:
        time.sleep(delay_s)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def _checkpoint_writes(path):
    """A condition that holds once `path` has been (re)written since the condition was made."""
    first = path.stat().st_mtime_ns if path.exists() else None
    return lambda: path.exists() and path.stat().st_mtime_ns != first


def weights(path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    return {**state["model"], **{f"optimizer.{k}": v for k, v in _flat(state["optimizer"]["state"]).items()}}


def _flat(optimizer_state: dict) -> dict:
    return {
        f"{param}.{name}": value
        for param, slots in optimizer_state.items()
        for name, value in slots.items()
        if torch.is_tensor(value)
    }


def test_train_killed_at_random_points_resumes_to_the_same_weights(prepared, tmp_path):
    args = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--steps",
        "24",
        "--valid-every",
        "3",
        "--batch-size",
        "2",
        "--model-config",
        '{"hidden": 32}',
        "--threads",
        "1",
    ]
    subprocess.run(CMKT + args + ["-o", str(tmp_path / "straight")], check=True, capture_output=True)
    rng = np.random.default_rng(7)
    kills = 0
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    for _ in range(
        12
    ):  # kill at a random moment after a checkpoint, resume, kill again, ... until a resume ends the run
        resume = ["--resume"] if checkpoint.is_file() else []
        if not run_and_kill(
            args + ["-o", str(tmp_path / "killed"), *resume], _checkpoint_writes(checkpoint), float(rng.uniform(0, 0.3))
        ):
            break
        kills += 1
    else:
        subprocess.run(CMKT + args + ["-o", str(tmp_path / "killed"), "--resume"], check=True, capture_output=True)
    assert kills >= 1, "the run finished before any kill; the test did not exercise an interruption"
    straight, resumed = weights(tmp_path / "straight" / "checkpoint.pt"), weights(tmp_path / "killed" / "checkpoint.pt")
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def _noisy_folder(root, count: int, seconds: float = 4.0):
    root.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        sf.write(
            root / f"f{index:02d}.wav", (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000
        )


def test_enhance_killed_leaves_only_complete_outputs_and_a_rerun_does_the_rest(trained_model, tmp_path):
    _noisy_folder(tmp_path / "in", 40, seconds=10.0)
    args = [
        "enhance",
        str(tmp_path / "in"),
        "--model",
        str(trained_model),
        "--threads",
        "1",
        "-o",
        str(tmp_path / "out"),
    ]
    outputs = lambda: len(list((tmp_path / "out").glob("f*.wav"))) if (tmp_path / "out").exists() else 0  # noqa: E731
    assert run_and_kill(args, lambda: outputs() >= 5), "enhance finished before the kill"
    done = (
        sorted(p for p in (tmp_path / "out").glob("*.wav") if not p.name.startswith("."))
        if (tmp_path / "out").exists()
        else []
    )
    assert len(done) < 40
    for path in done:  # whatever carries a final name is whole
        assert sf.info(str(path)).frames == 160000
    finished = subprocess.run(CMKT + args + ["--log", str(tmp_path / "log.csv")], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert f"skipped {len(done)} existing" in finished.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"f{i:02d}.wav" for i in range(40)
    ]  # no temporaries left


def test_prep_killed_then_rerun_finishes_with_the_same_mixtures(speech_corpus, noise_folder, tmp_path):
    args = ["prep", "--speech", str(speech_corpus), "--noise", str(noise_folder), "--snr", "0", "--snr", "5"]
    subprocess.run(CMKT + args + ["-o", str(tmp_path / "straight")], check=True, capture_output=True)
    mixtures = lambda: len(list((tmp_path / "killed").rglob("[fm][0-9]*.wav"))) if (tmp_path / "killed").exists() else 0  # noqa: E731
    assert run_and_kill(args + ["-o", str(tmp_path / "killed")], lambda: mixtures() >= 4), (
        "prep finished before the kill"
    )
    for path in (tmp_path / "killed").rglob("*.wav"):
        if not path.name.startswith("."):  # a hidden temporary may be cut short; the rerun must remove it
            assert sf.info(str(path)).frames > 0  # no partial file under a final name
    subprocess.run(CMKT + args + ["-o", str(tmp_path / "killed")], check=True, capture_output=True)
    straight = sorted(p.relative_to(tmp_path / "straight") for p in (tmp_path / "straight").rglob("*.wav"))
    assert straight == sorted(p.relative_to(tmp_path / "killed") for p in (tmp_path / "killed").rglob("*.wav"))
    for rel in straight:
        assert (tmp_path / "straight" / rel).read_bytes() == (tmp_path / "killed" / rel).read_bytes()
    assert (tmp_path / "straight" / "test.jsonl").read_text() == (tmp_path / "killed" / "test.jsonl").read_text()


def _with_file_size_limit(limit_bytes: int):
    """For a child process: files cannot grow past `limit_bytes` (a full disk, as the writer sees it)."""
    import resource

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits")
def test_full_disk_gives_a_clear_error_and_keeps_the_last_good_checkpoint(prepared, tmp_path):
    args = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--batch-size",
        "2",
        "--valid-every",
        "2",
        "--model-config",
        '{"hidden": 32}',
        "--threads",
        "1",
        "-o",
        str(tmp_path / "run"),
    ]
    subprocess.run(CMKT + args + ["--steps", "2"], check=True, capture_output=True)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    full = subprocess.run(
        CMKT + args + ["--steps", "4", "--resume"],
        capture_output=True,
        text=True,
        preexec_fn=_with_file_size_limit(20_000),
    )
    assert full.returncode == 1
    assert "cannot write" in full.stderr and "free space" in full.stderr and "Traceback" not in full.stderr
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before  # the old checkpoint is intact
    assert not [p for p in (tmp_path / "run").iterdir() if ".tmp" in p.name]  # no temporary left behind


@pytest.mark.parametrize(
    "signum, code, jobs", [(signal.SIGTERM, 143, "1"), (signal.SIGINT, 130, "1"), (signal.SIGTERM, 143, "2")]
)
def test_enhance_stopped_by_a_signal_logs_what_is_done_says_so_and_leaves_no_temporary(
    trained_model, tmp_path, signum, code, jobs
):
    import csv

    _noisy_folder(tmp_path / "in", 30, seconds=10.0)
    log = tmp_path / "log.csv"
    process = subprocess.Popen(
        CMKT
        + [
            "enhance",
            str(tmp_path / "in"),
            "--model",
            str(trained_model),
            "--threads",
            "1",
            "-o",
            str(tmp_path / "out"),
            "--log",
            str(log),
            "--jobs",
            jobs,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finals = lambda: [p for p in (tmp_path / "out").glob("f*.wav")] if (tmp_path / "out").exists() else []  # noqa: E731
    deadline = time.monotonic() + 300
    while process.poll() is None and len(finals()) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "enhance finished before the signal"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not any(name.startswith(".") for name in names), names  # the file in flight left no temporary
    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert sorted(r["output"].rsplit("/", 1)[1] for r in rows) == names and all(r["status"] == "written" for r in rows)
    assert 3 <= len(rows) < 30 and f"enhanced {len(rows)} file(s)" in stdout
    assert f"interrupted by {signal.Signals(signum).name}" in " ".join(stderr.split()) and "Traceback" not in stderr
