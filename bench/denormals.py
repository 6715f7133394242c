"""Why cmkt flushes denormals: CMKT training-step time from a late checkpoint, with and without.

Usage: python bench/denormals.py DATA_DIR RUN_DIR [--batches 6]
RUN_DIR is a finished CMKT run (its checkpoint.pt holds model and bridge); DATA_DIR its prep output.
Alternates off/on/off in one run so that machine load affects both alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cmkt.data.dataset import SEDataset, collate
from cmkt.distill.alignment import build_bridge
from cmkt.registry import build_model, load_payload
from cmkt.distill.losses import parse_loss
from cmkt.training.config import DEFAULT_LOSS, TrainConfig
from cmkt.training.step_losses import LossSetup, batch_losses
from cmkt.training.trainer import resolve_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--batches", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(2)
    cache = resolve_cache(TrainConfig(str(args.data / "train.jsonl"), "", ""))
    dataset = SEDataset(args.data / "train.jsonl", 16000, 4.0, cache)
    batches = [collate([dataset[i * 8 + j] for j in range(8)]) for i in range(args.batches)]
    state = load_payload(args.run / "checkpoint.pt")
    model = build_model("stft-mask-gru")
    model.load_state_dict(state["model"])
    bridge = build_bridge("attention", model.tap_dim, cache.dim)
    bridge.load_state_dict(state["bridge"])
    times = {False: [], True: []}
    for flush in (False, True, False, True):
        torch.set_flush_denormal(flush)
        start = time.perf_counter()
        for batch in batches:
            loss = batch_losses(model, batch, LossSetup(parse_loss(DEFAULT_LOSS), bridge=bridge, alpha=0.9))["loss"]
            loss.backward()
        times[flush].append((time.perf_counter() - start) / len(batches))
    off, on = sum(times[False]) / 2, sum(times[True]) / 2
    print(f"denormals kept   {1000 * off:7.1f} ms/step (forward+backward, batch 8)")
    print(f"denormals flushed {1000 * on:6.1f} ms/step")
    print(f"ratio kept/flushed: {off / on:.2f}")


if __name__ == "__main__":
    main()
