"""Do --amp and --compile pay on this machine? Step time of the default backbone with each, one run.

Usage: python bench/train_flags.py DATA_DIR [--steps 16] [--threads 2]
DATA_DIR is a `cmkt prep` output. Baseline loss (no teacher) so only the backbone's cost differs;
the first 3 steps (and compilation) are not timed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cmkt.data.dataset import SEDataset, collate
from cmkt.registry import build_model
from cmkt.distill.losses import parse_loss
from cmkt.training.config import DEFAULT_LOSS
from cmkt.training.step_losses import LossSetup, batch_losses
from cmkt.training.trainer import compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    dataset = SEDataset(args.data / "train.jsonl", 16000, 4.0)
    batches = [collate([dataset[(i * 8 + j) % len(dataset)] for j in range(8)]) for i in range(args.steps)]
    results = {}
    for name, amp, compile_model in [
        ("fp32", False, False),
        ("--amp (bfloat16)", True, False),
        ("--compile", False, True),
    ]:
        torch.manual_seed(0)
        model = build_model("stft-mask-gru")
        optimizer = torch.optim.Adam(model.parameters())
        forward = compiled(model) if compile_model else model
        start = None
        for index, batch in enumerate(batches):
            if index == 3:
                start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                loss = batch_losses(forward, batch, LossSetup(parse_loss(DEFAULT_LOSS), alpha=0.9))["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        results[name] = (time.perf_counter() - start) / (args.steps - 3)
        print(f"{name:18s} {1000 * results[name]:8.1f} ms/step   ratio to fp32 {results[name] / results['fp32']:.2f}")


if __name__ == "__main__":
    main()
