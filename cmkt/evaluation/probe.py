"""Did the linguistic knowledge arrive? A linear probe from frozen SE features to the teacher.

The distillation asks the SE model's tap to predict the teacher's token embeddings; whether it
learnt anything of the words shows in how well a linear map from the tap, frozen, predicts the
teacher on speech it never trained on. Each utterance is pooled (mean over the tap's frames,
mean over the teacher's tokens) so no alignment is needed; a ridge map is fitted on one split,
its penalty chosen on another (by cosine), and scored on a third by the cosine of prediction and
target and by retrieval: whether the nearest of the held-out transcripts is the one spoken
(chance is one over their number). Predicting the fitted targets' mean for every utterance is
the cosine to beat; a model trained without a teacher is the control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cmkt.audio import read_audio
from cmkt.data.manifest import Utterance
from cmkt.teachers.cache import EmbeddingCache

PENALTIES = tuple(10.0**k for k in range(-2, 6))  # up to where the map predicts little but the mean


def pooled_taps(model: torch.nn.Module, utterances: list[Utterance], noisy: bool = True) -> np.ndarray:
    """(utterances, tap_dim): each utterance's tap averaged over frames, on its noisy (or clean) audio."""
    rows = []
    model.eval()
    with torch.inference_mode():
        for u in utterances:
            audio = read_audio(
                u.noisy if noisy and u.noisy else u.clean, sample_rate=model.config.sample_rate, mono=True
            )
            _, tap = model(torch.from_numpy(audio.samples[:1].astype(np.float32)))
            rows.append(tap[0].mean(dim=0).numpy())
    return np.stack(rows)


def pooled_targets(cache: EmbeddingCache, utterances: list[Utterance]) -> np.ndarray:
    """(utterances, teacher_dim): each transcript's token embeddings averaged, unit length."""
    targets = np.stack([cache.get(u.text).mean(axis=0) for u in utterances])
    return targets / np.linalg.norm(targets, axis=1, keepdims=True)


@dataclass
class RidgeMap:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        standard = (features - self.mean) / self.scale
        return np.hstack([standard, np.ones((len(features), 1))]) @ self.weights


def fit_ridge(features: np.ndarray, targets: np.ndarray, penalty: float) -> RidgeMap:
    """Least squares with an L2 penalty on standardised features (the bias unpenalised)."""
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-8
    design = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
    regulariser = penalty * np.eye(design.shape[1])
    regulariser[-1, -1] = 0.0
    weights = np.linalg.solve(design.T @ design + regulariser, design.T @ targets)
    return RidgeMap(mean, scale, weights)


@dataclass
class ProbeScores:
    cosine: float  # mean cosine of predicted and true pooled embedding
    retrieval: float  # share of utterances whose nearest held-out transcript is their own
    chance: float  # 1 / number of distinct held-out transcripts
    penalty: float  # the ridge penalty the selection split chose
    mean_cosine: float  # the cosine of predicting the fitted targets' mean for every utterance


def retrieval_accuracy(predicted: np.ndarray, targets: np.ndarray, texts: list[str]) -> tuple[float, float]:
    """Nearest transcript (by cosine over the distinct ones) is the spoken one; and the chance of that."""
    distinct = sorted(set(texts))
    index = {text: i for i, text in enumerate(distinct)}
    bank = np.stack([targets[texts.index(text)] for text in distinct])
    unit = predicted / (np.linalg.norm(predicted, axis=1, keepdims=True) + 1e-12)
    nearest = np.argmax(unit @ bank.T, axis=1)
    hits = [nearest[row] == index[text] for row, text in enumerate(texts)]
    return float(np.mean(hits)), 1.0 / len(distinct)


def probe(
    fit: tuple[np.ndarray, np.ndarray],
    select: tuple[np.ndarray, np.ndarray, list[str]],
    score: tuple[np.ndarray, np.ndarray, list[str]],
) -> ProbeScores:
    """Fit on `fit` (features, targets), choose the penalty by cosine on `select`, score on `score`."""

    def evaluate(ridge: RidgeMap, split) -> tuple[float, float, float]:
        features, targets, texts = split
        predicted = ridge(features)
        unit = predicted / (np.linalg.norm(predicted, axis=1, keepdims=True) + 1e-12)
        cosine = float(np.mean(np.sum(unit * targets, axis=1)))
        return (cosine, *retrieval_accuracy(predicted, targets, texts))

    chosen = max(PENALTIES, key=lambda p: evaluate(fit_ridge(*fit, p), select)[0])
    cosine, retrieval, chance = evaluate(fit_ridge(*fit, chosen), score)
    mean = fit[1].mean(axis=0)
    mean_cosine = float(np.mean(score[1] @ (mean / np.linalg.norm(mean))))
    return ProbeScores(cosine, retrieval, chance, chosen, mean_cosine)
