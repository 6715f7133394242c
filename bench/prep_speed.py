"""Data-preparation speed: mixing throughput and the teacher cache against the language model alone.

Usage: python bench/prep_speed.py [--data ../shared/data]
Mixing: all of ../shared/data's speech (2,550 prompts, about 2 hours) with its noises, through
`cmkt prep --teacher none` in a fresh process (wall time, CPU time, peak memory). Cache: the
teacher cache of all transcripts (build_cache with the default teacher) against the model's own
`encode` of the same texts in the same run. Prints audio-hours per CPU-hour and the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cmkt-prep-bench-"))
    sys.path.insert(0, str(REPO / "recipes" / "asterisk"))
    from run import build_inputs

    table, noise = build_inputs(args.data.resolve(), work)
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    audio_s = sum(
        float(r["duration_s"])
        for r in csv.DictReader((args.data / "speech" / "manifest.tsv").open(encoding="utf-8"), delimiter="\t")
    )
    code = (
        "import json, time, resource\n"
        "from cmkt.data.prep import PrepConfig, prepare\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"prepare(PrepConfig({str(table)!r}, {str(noise)!r}, {str(work / 'data')!r}, teacher=None, snr_range=(-5.0, "
        f"20.0)))\n"
        "print('TIMES', json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))\n"
    )
    import subprocess

    peak = peak_rss_mb(code)  # first run: measures memory (and warms the file cache)
    done = subprocess.run(
        [sys.executable, "-c", code.replace(str(work / "data"), str(work / "data2"))], capture_output=True, text=True
    )
    wall, cpu = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("TIMES")).split(" ", 1)[1])
    print(f"mixing: {len(rows)} utterances, {audio_s / 3600:.2f} h of speech -> clean + noisy 16-bit WAV")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.0f} MB")
    print(f"  {audio_s / cpu:.0f}x real time per core = {audio_s / cpu:.0f} audio-hours per CPU-hour")

    from cmkt.teachers.cache import build_cache
    from cmkt.teachers.lm import LMTeacher

    texts = sorted({r["text"].strip() for r in rows if r["text"].strip()})
    teacher = LMTeacher()
    teacher.encode(texts[:64])  # warm-up
    start = time.perf_counter()
    for first in range(0, len(texts), 64):
        teacher.model.encode(texts[first : first + 64], output_value="token_embeddings", batch_size=32)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    build_cache(work / "cache", teacher, texts)
    cached = time.perf_counter() - start
    print(
        f"teacher cache: {len(texts)} distinct transcripts; the model's encode alone {alone:.1f} s, "
        f"build_cache {cached:.1f} s; ratio (model alone / cache build) {alone / cached:.2f}"
    )


if __name__ == "__main__":
    main()
