"""A model's score on a validation manifest, measured exactly as `cmkt train` validates (the same evenly
spread items, no post-filter), so a run's train_log.csv can be compared with a model that was not trained
on that manifest (e.g. the shipped default, before a stage that starts from it is judged).

Usage: python bench/valid_score.py VALID.jsonl --model cmkt-base-16k [--model RUN/model.pt ...]
       [--items 48] [--select pesq_wb=1,stoi=4] [--seed 0] [--max-seconds 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cmkt.registry import load_model, resolve_model
from cmkt.training.config import DEFAULT_SELECT, TrainConfig
from cmkt.training.selection import parse_select, selection_score, validate, validation_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("valid", type=Path)
    parser.add_argument("--model", action="append", required=True, help="a model name or .pt; repeat for more")
    parser.add_argument("--items", type=int, default=48, help="as --valid-items of the run compared with")
    parser.add_argument("--select", default=DEFAULT_SELECT, help="as --select of the run compared with")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed, help="as --seed of the run compared with")
    parser.add_argument(
        "--max-seconds", type=float, default=TrainConfig.max_seconds, help="as --max-seconds of the run compared with"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    select = parse_select(args.select)
    for name in args.model:
        model, meta = load_model(resolve_model(name))
        dataset = validation_set(args.valid, meta["sample_rate"], args.max_seconds, seed=args.seed)
        scores = validate(model, dataset, args.items)
        print(
            f"{name}: PESQ-WB {scores['val_pesq_wb']:.4f}  STOI {scores['val_stoi']:.4f}  "
            f"score ({args.select}) {selection_score(scores, select):.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
