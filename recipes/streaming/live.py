"""Real-time enhancement of a WAV file in 10 ms blocks, as a microphone host would run it.

Usage: python recipes/streaming/live.py noisy.wav -o enhanced.wav --model runs/quickstart/cmkt/model.pt [--realtime]

Each block goes through `Enhancer.stream()` (state carried between calls, no sound card needed).
With --realtime the loop waits for each block's wall-clock slot, like a live input. The report
gives the algorithmic latency and how close each block's compute came to its deadline.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cmkt.audio import read_audio, write_audio
from cmkt.inference.enhancer import load_enhancer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("noisy")
    parser.add_argument("-o", "--out", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--block-ms", type=float, default=10.0)
    parser.add_argument("--realtime", action="store_true", help="pace the blocks at real time")
    args = parser.parse_args()
    enhancer = load_enhancer(args.model, threads=1)
    audio = read_audio(args.noisy, sample_rate=enhancer.sample_rate, mono=True)
    block = int(args.block_ms / 1000 * enhancer.sample_rate)
    stream = enhancer.stream()
    pieces, compute_ms = [], []
    start_clock = time.perf_counter()
    for index, start in enumerate(range(0, audio.samples.shape[1], block)):
        if args.realtime:  # wait until this block would have been captured
            time.sleep(max(0.0, start_clock + (index + 1) * args.block_ms / 1000 - time.perf_counter()))
        begin = time.perf_counter()
        pieces.append(stream.push(audio.samples[:, start : start + block]))
        compute_ms.append(1000 * (time.perf_counter() - begin))
    pieces.append(stream.flush())
    write_audio(args.out, np.concatenate(pieces, axis=1), enhancer.sample_rate)
    compute = np.array(compute_ms)
    late = int((compute > args.block_ms).sum())
    print(
        f"{len(compute)} blocks of {args.block_ms:g} ms; algorithmic latency "
        f"{stream.latency_ms(enhancer.sample_rate):.0f} ms; "
        f"compute per block mean {compute.mean():.2f} ms, p99 {np.percentile(compute, 99):.2f} ms; "
        f"blocks over their deadline: {late}; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
