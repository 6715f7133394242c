"""Which checkpoint is kept: the validation pass, and the `--select` weighting of its metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cmkt.data.dataset import SEDataset
from cmkt.evaluation.metrics import score_signals
from cmkt.training.config import DEFAULT_SELECT
from cmkt.util.weighted_terms import parse_weighted_terms

VALIDATION_METRICS = ("pesq_wb", "stoi")
VALID_CROP_FACTOR = 4  # validation clips are this many training crops long: whole utterances, mostly


def validation_set(
    manifest: str | Path, sample_rate: int, train_seconds: float, cache=None, seed: int = 0
) -> SEDataset:
    """The validation set as `cmkt train` builds it, so a model scored outside a run compares with its log."""
    return SEDataset(manifest, sample_rate, train_seconds * VALID_CROP_FACTOR, cache, seed)


def parse_select(spec: str) -> dict[str, float]:
    """`--select`: the validation metrics, weighted, whose sum picks the kept checkpoint."""
    return parse_weighted_terms(spec, VALIDATION_METRICS, "--select", "pesq_wb=1,stoi=4")


def selection_score(row: dict, weights: dict[str, float]) -> float:
    """The weighted sum of a validation row's metrics (keys val_NAME): higher is better."""
    return sum(weight * float(row[f"val_{name}"]) for name, weight in weights.items())


def validations_since_best(rows: list[dict], select: dict[str, float] | None = None) -> int:
    """How many validations came after the best one by `select` (derived from the log, so --resume agrees)."""
    select = select or parse_select(DEFAULT_SELECT)
    scores = [selection_score(r, select) for r in rows if r.get("val_pesq_wb") not in (None, "")]
    return len(scores) - 1 - max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0


def validate(model: torch.nn.Module, dataset: SEDataset, items: int) -> dict[str, float]:
    """Mean PESQ-WB and STOI on a fixed subset spread evenly over the validation set (every language, speaker, SNR)."""
    model.eval()
    device = next(model.parameters()).device
    pesq_scores, stoi_scores = [], []
    with torch.inference_mode():
        for index in np.linspace(0, len(dataset) - 1, min(items, len(dataset))).round().astype(int):
            item = dataset[int(index)]
            enhanced, _ = model(item["noisy"][None].to(device))
            scores = score_signals(
                item["clean"].numpy(), enhanced[0].cpu().numpy(), dataset.sample_rate, VALIDATION_METRICS
            )
            pesq_scores.append(scores["pesq_wb"])
            stoi_scores.append(scores["stoi"])
    model.train()
    return {"val_pesq_wb": float(np.mean(pesq_scores)), "val_stoi": float(np.mean(stoi_scores))}
