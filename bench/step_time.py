"""Training step time of CMKT (each alignment) vs the baseline (same backbone, batch and data), as ratios in one run.

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
from cmkt.distill.alignment import build_bridge
from cmkt.registry import build_model
from cmkt.distill.losses import parse_loss
from cmkt.training.config import DEFAULT_LOSS, TrainConfig
from cmkt.training.step_losses import LossSetup, batch_losses
from cmkt.training.trainer import resolve_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--align", nargs="+", default=["attention", "uot", "tot"], help="alignments to time against the baseline"
    )
    parser.add_argument(
        "--strides", type=int, nargs="+", default=[2], help="bridge strides to time (cmkt train --bridge-stride)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as cmkt train does
    cache = resolve_cache(TrainConfig(str(args.data / "train.jsonl"), "", ""))
    dataset = SEDataset(args.data / "train.jsonl", 16000, 4.0, cache)
    batches = [
        collate([dataset[(i * args.batch_size + j) % len(dataset)] for j in range(args.batch_size)])
        for i in range(args.steps)
    ]
    bridged = {f"{align} stride {stride}": (align, stride) for align in args.align for stride in args.strides}
    setups = ["baseline", *bridged]
    models, bridges, optimizers = {}, {}, {}
    for name in setups:
        torch.manual_seed(0)
        models[name] = build_model("stft-mask-gru")
        bridges[name] = (
            None if name == "baseline" else build_bridge(bridged[name][0], 256, cache.dim, stride=bridged[name][1])
        )
        extra = list(bridges[name].parameters()) if bridges[name] is not None else []
        optimizers[name] = torch.optim.Adam(list(models[name].parameters()) + extra)
    seconds = {name: 0.0 for name in setups}
    for step, batch in enumerate(batches):
        for name in setups:  # interleaved, so machine load affects every set-up alike
            start = time.perf_counter()
            setup = LossSetup(parse_loss(DEFAULT_LOSS), bridge=bridges[name], alpha=0.9, max_shift=12, shift_prob=0.5)
            loss = batch_losses(models[name], batch, setup, torch.Generator().manual_seed(step))["loss"]
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            if step >= 3:  # warm-up steps are not timed
                seconds[name] += time.perf_counter() - start
    timed = args.steps - 3
    for name, total in seconds.items():
        ratio = "" if name == "baseline" else f"   ratio to baseline {total / seconds['baseline']:.3f}"
        print(f"{name:18s} {1000 * total / timed:7.1f} ms/step{ratio}")
    print(f"(batch {args.batch_size}, {args.threads} threads, {timed} timed steps each)")


if __name__ == "__main__":
    main()
