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

PENALTIES = tuple(10.0**k for k in range(-2, 9))  # up to where the map predicts little but the mean


def utterance_taps(
    model: torch.nn.Module, utterances: list[Utterance], tokens: list[int], noisy: bool = True
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each utterance's tap on its noisy (or clean) audio, frozen: averaged over all frames
    (utterances, tap_dim), and cut into its transcript's token count (tokens, tap_dim).

    The cut is a uniform alignment over the speech's span (the clean audio's frames within 40 dB
    of its loudest): crude, but it asks of the tap what the distillation asked, word by word."""
    pooled, per_token = [], []
    model.eval()
    hop = model.tap_hop
    with torch.inference_mode():
        for u, count in zip(utterances, tokens):
            rate = model.config.sample_rate
            heard = read_audio(u.noisy if noisy and u.noisy else u.clean, sample_rate=rate, mono=True).samples[0]
            _, tap = model(torch.from_numpy(heard.astype(np.float32))[None])
            frames = tap[0].numpy()
            pooled.append(frames.mean(axis=0))
            clean = read_audio(u.clean, sample_rate=rate, mono=True).samples[0]
            clean = np.pad(clean, (0, max(0, len(frames) * hop - len(clean))))[: len(frames) * hop]
            energy = (clean.reshape(len(frames), hop) ** 2).sum(axis=1)
            active = np.flatnonzero(energy >= energy.max() * 1e-4) if energy.max() > 0 else np.arange(len(frames))
            span = frames[active[0] : active[-1] + 1]
            edges = np.linspace(0, len(span), count + 1)
            per_token.append(
                np.stack([span[int(a) : max(int(a) + 1, int(b))].mean(axis=0) for a, b in zip(edges[:-1], edges[1:])])
            )
    return np.stack(pooled), per_token


def pooled_targets(cache: EmbeddingCache, utterances: list[Utterance]) -> np.ndarray:
    """(utterances, teacher_dim): each transcript's token embeddings averaged, unit length."""
    targets = np.stack([cache.get(u.text).mean(axis=0) for u in utterances])
    return targets / np.linalg.norm(targets, axis=1, keepdims=True)


def token_targets(cache: EmbeddingCache, utterances: list[Utterance]) -> list[np.ndarray]:
    """Each transcript's token embeddings (tokens, teacher_dim), each of unit length."""
    rows = [cache.get(u.text) for u in utterances]
    return [r / np.linalg.norm(r, axis=1, keepdims=True) for r in rows]


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / (np.linalg.norm(rows, axis=-1, keepdims=True) + 1e-12)


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


def prediction_cosine(ridge: RidgeMap, features: np.ndarray, targets: np.ndarray) -> float:
    """Mean cosine of the map's predictions for `features` and the (unit) `targets`, row by row."""
    return float(np.mean(np.sum(_unit(ridge(features)) * targets, axis=1)))


def chosen_ridge(fit: tuple[np.ndarray, np.ndarray], select: tuple[np.ndarray, np.ndarray]) -> tuple[RidgeMap, float]:
    """The ridge map fitted on `fit` with the penalty of PENALTIES that scores best by cosine on `select`."""
    penalty = max(PENALTIES, key=lambda p: prediction_cosine(fit_ridge(*fit, p), *select))
    return fit_ridge(*fit, penalty), penalty


def constant_cosine(fitted_targets: np.ndarray, targets: np.ndarray) -> float:
    """The cosine to beat: predicting the fitted targets' mean for every row of `targets`."""
    return float(np.mean(targets @ _unit(fitted_targets.mean(axis=0))))


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
    nearest = np.argmax(_unit(predicted) @ bank.T, axis=1)
    hits = [nearest[row] == index[text] for row, text in enumerate(texts)]
    return float(np.mean(hits)), 1.0 / len(distinct)


def probe(
    fit: tuple[np.ndarray, np.ndarray],
    select: tuple[np.ndarray, np.ndarray, list[str]],
    score: tuple[np.ndarray, np.ndarray, list[str]],
) -> ProbeScores:
    """Fit on `fit` (features, targets), choose the penalty by cosine on `select`, score on `score`."""
    ridge, penalty = chosen_ridge(fit, select[:2])
    features, targets, texts = score
    retrieval, chance = retrieval_accuracy(ridge(features), targets, texts)
    cosine = prediction_cosine(ridge, features, targets)
    return ProbeScores(cosine, retrieval, chance, penalty, constant_cosine(fit[1], targets))


@dataclass
class TokenProbeScores:
    cosine: float  # mean cosine of predicted and true token embedding, over tokens
    mean_cosine: float  # the same for predicting the fitted tokens' mean
    identification: float  # share of tokens whose nearest token of their own utterance is themselves
    chance: float  # the same by chance: the mean of 1 / tokens over tokens
    penalty: float
    per_utterance: list[float]  # each scored utterance's identification share, for paired comparisons


def _stacked(split: tuple[list[np.ndarray], list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (features, targets) lists as one pair of token rows."""
    return np.concatenate(split[0]), np.concatenate(split[1])


def token_probe(
    fit: tuple[list[np.ndarray], list[np.ndarray]],
    select: tuple[list[np.ndarray], list[np.ndarray]],
    score: tuple[list[np.ndarray], list[np.ndarray]],
) -> TokenProbeScores:
    """The token-level probe: a ridge map from each token's span of the tap to its embedding; the
    penalty chosen by cosine on `select`; on `score`, cosine and identification within utterances
    (is predicted token i nearest to true token i among the utterance's tokens)."""
    stacked, scored = _stacked(fit), _stacked(score)
    ridge, penalty = chosen_ridge(stacked, _stacked(select))
    hits, chances, per_utterance = [], [], []
    for features, targets in zip(*score):
        similarity = _unit(ridge(features)) @ targets.T
        mine = np.argmax(similarity, axis=1) == np.arange(len(targets))
        hits += list(mine)
        per_utterance.append(float(mine.mean()))
        chances += [1.0 / len(targets)] * len(targets)
    return TokenProbeScores(
        prediction_cosine(ridge, *scored),
        constant_cosine(stacked[1], scored[1]),
        float(np.mean(hits)),
        float(np.mean(chances)),
        penalty,
        per_utterance,
    )
