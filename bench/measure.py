"""Measuring helpers shared by the bench scripts."""

from __future__ import annotations

import subprocess
import sys


def peak_rss_mb(code: str) -> float:
    """Peak resident memory of a fresh Python process running `code` (it reports its own at exit).

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent, VmHWM starts afresh.
    """
    report = (
        "import atexit, re; atexit.register(lambda: print('PEAK_KB', "
        "re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
    )
    done = subprocess.run([sys.executable, "-c", report + code], capture_output=True, text=True)
    peaks = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("PEAK_KB")]
    if done.returncode or not peaks:
        raise RuntimeError(f"child failed: {done.stderr[-2000:]}")
    return int(peaks[-1]) / 1024
