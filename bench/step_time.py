"""Training step time of CMKT vs the baseline (same backbone, batch and data), as a ratio in one run.

Usage: python bench/step_time.py DATA_DIR [--steps 30] [--threads 2]
DATA_DIR is a `cmkt prep` output (e.g. runs/quickstart/data after `make demo`). Steps of the two
set-ups are interleaved so that machine load affects both alike.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cmkt.data.dataset import SEDataset, collate
from cmkt.distill.bridge import AttentionBridge
from cmkt.registry import build_model
from cmkt.train import TrainConfig, batch_losses, resolve_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as cmkt.train does
    cache = resolve_cache(TrainConfig(str(args.data / "train.jsonl"), "", ""))
    dataset = SEDataset(args.data / "train.jsonl", 16000, 4.0, cache)
    batches = [collate([dataset[(i * args.batch_size + j) % len(dataset)] for j in range(args.batch_size)]) for i in range(args.steps)]
    torch.manual_seed(0)
    models = {"baseline": build_model("stft-mask-gru"), "cmkt": build_model("stft-mask-gru")}
    bridge = AttentionBridge(256, cache.dim)
    optimizers = {"baseline": torch.optim.Adam(models["baseline"].parameters()),
                  "cmkt": torch.optim.Adam(list(models["cmkt"].parameters()) + list(bridge.parameters()))}
    seconds = {"baseline": 0.0, "cmkt": 0.0}
    for step, batch in enumerate(batches):
        for name in ("baseline", "cmkt"):
            start = time.perf_counter()
            loss, _, _ = batch_losses(models[name], bridge if name == "cmkt" else None, batch, 0.9, 12, 0.5,
                                      torch.Generator().manual_seed(step))
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            if step >= 3:  # warm-up steps are not timed
                seconds[name] += time.perf_counter() - start
    timed = args.steps - 3
    for name, total in seconds.items():
        print(f"{name:9s} {1000 * total / timed:7.1f} ms/step")
    print(f"ratio cmkt/baseline: {seconds['cmkt'] / seconds['baseline']:.3f} (batch {args.batch_size}, {args.threads} threads)")


if __name__ == "__main__":
    main()
