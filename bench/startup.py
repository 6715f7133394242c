"""Start-up and folder throughput of `cmkt enhance`: where the seconds before the first file go, and
whether worker processes (--jobs) beat torch threads on a folder.

Usage: python bench/startup.py [--files 8] [--seconds 10] [--repeat 3]
Prints (1) the wall time of `python -c pass`, `import torch`, `import cmkt.cli`, `cmkt --help` and
`cmkt enhance` of one SECONDS-long file, each the median of --repeat runs; (2) the stages of that
enhance run inside one process (imports, model load, read, enhance, write); (3) a folder of --files
files enhanced with --threads 1, --threads 2 and --jobs 2 (one thread per process), wall times and
their ratio to --threads 2, all in this run. The model is the shipped default.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

PY = [sys.executable]
STAGES = r"""
import time; t0 = time.perf_counter()
import torch; t1 = time.perf_counter()
from cmkt.inference.enhancer import enhance_file, load_enhancer; t2 = time.perf_counter()
enhancer = load_enhancer("cmkt-base-16k"); t3 = time.perf_counter()
import soundfile as sf; x, rate = sf.read(SOURCE, dtype="float32"); t4 = time.perf_counter()
enhance_file(enhancer, SOURCE, TARGET); t5 = time.perf_counter()
print(f"import torch {t1 - t0:.2f} s | import cmkt.inference {t2 - t1:.2f} s | load model {t3 - t2:.2f} s | "
      f"read {t4 - t3:.3f} s | enhance + write {t5 - t4:.2f} s")
"""


def wall(args: list[str], repeat: int, env: dict | None = None) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        for index in range(args.files):
            sf.write(
                root / "in" / f"f{index}.wav",
                (0.1 * rng.standard_normal(int(16000 * args.seconds))).astype(np.float32),
                16000,
            )
        one = root / "in" / "f0.wav"
        cmkt = PY + ["-m", "cmkt"]
        print(f"machine: {os.cpu_count()} CPUs; {args.seconds:g}-s files; medians of {args.repeat} runs")
        for label, command in (
            ("python -c pass", PY + ["-c", "pass"]),
            ("import torch", PY + ["-c", "import torch"]),
            ("import cmkt.cli", PY + ["-c", "import cmkt.cli"]),
            ("cmkt --help", cmkt + ["--help"]),
            (
                f"cmkt enhance one {args.seconds:g}-s file",
                cmkt + ["enhance", str(one), "-o", str(root / "o1"), "--overwrite"],
            ),
        ):
            print(f"{label}: {wall(command, args.repeat):.2f} s", flush=True)
        code = STAGES.replace("SOURCE", repr(str(one))).replace("TARGET", repr(str(root / "stage.wav")))
        print(
            "inside one enhance run:",
            subprocess.run(PY + ["-c", code], check=True, capture_output=True, text=True).stdout.strip(),
        )
        runs = {}
        for label, extra in (
            ("--threads 1", ["--threads", "1"]),
            ("--threads 2", ["--threads", "2"]),
            ("--jobs 2", ["--jobs", "2", "--threads", "1"]),
        ):
            runs[label] = wall(
                cmkt + ["enhance", str(root / "in"), "-o", str(root / label.replace(" ", "")), "--overwrite", *extra], 1
            )
        audio = args.files * args.seconds
        print(f"folder of {args.files} x {args.seconds:g} s ({audio:g} s of audio), wall time including start-up:")
        for label, seconds in runs.items():
            print(
                f"  {label}: {seconds:.1f} s (RTF {seconds / audio:.3f}), {runs['--threads 2'] / seconds:.2f}x the "
                f"speed of --threads 2"
            )


if __name__ == "__main__":
    main()
