"""One training step's loss, L = alpha L_se + (1 - alpha) L_kd, as a dict of its terms.

Everything a step needs besides the model and the batch is fixed for a run, so it travels in one
`LossSetup`; the terms come back by name, so the trainer logs what it was given and nothing is
read back from the modules afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cmkt.distill.losses import cosine_distill_loss, enhancement_loss, normaliser_counts
from cmkt.distill.shift import temporal_shift


@dataclass(frozen=True)
class LossSetup:
    """A run's loss: the enhancement terms' weights and, when distilling, the teachers and how they weigh in.

    `bridge` is the language-model teacher's bridge, `ssl` an (SSLTeacher, SSLHead) pair; with both,
    L_kd = (1 - ssl_weight) L_cma + ssl_weight L_ssl. `max_shift` (frames) and `shift_prob` are the
    misalignment; `share` is (rank, world) under torchrun, so each rank draws its part of the shifts."""

    loss_weights: dict[str, float]
    sample_rate: int = 16000
    bridge: torch.nn.Module | None = None
    ssl: tuple | None = None
    alpha: float = 1.0
    max_shift: int = 0
    shift_prob: float = 0.0
    ssl_weight: float = 0.5
    share: tuple[int, int] = (0, 1)

    @property
    def distilling(self) -> bool:
        return self.bridge is not None or self.ssl is not None


def batch_losses(
    model: torch.nn.Module,
    batch: dict,
    setup: LossSetup,
    generator: torch.Generator | None = None,
    scales: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """The batch's loss terms: "loss" (what is minimised), "l_se", "l_cma"; "unmatched" with a bridge (the
    frame mass an OT bridge left unmatched, 0 for the others) and "l_ssl" with an SSL teacher.

    `scales` (from `loss_counts` and distributed.global_scales) weights each term to this rank's share.
    """
    scales = scales or {}
    enhanced, tap = model(batch["noisy"])
    l_se = enhancement_loss(
        enhanced, batch["clean"], batch["lengths"], setup.loss_weights, sample_rate=setup.sample_rate, scales=scales
    )
    terms = {"l_se": l_se, "l_cma": torch.zeros((), device=enhanced.device)}
    if not setup.distilling:
        return {"loss": l_se, **terms}
    weighted = []
    if setup.bridge is not None:
        terms["unmatched"] = torch.zeros(())
    if setup.bridge is not None and batch["token_mask"].any():
        terms["l_cma"] = _language_model_term(model, tap, batch, setup, generator) * scales.get("cma", 1.0)
        terms["unmatched"] = torch.tensor(
            float(setup.bridge.last_unmatched)
        )  # the bridge's own diagnostic of this call
        weighted.append((1 - setup.ssl_weight if setup.ssl is not None else 1.0, terms["l_cma"]))
    if setup.ssl is not None:  # frame-synchronous with the clean speech: no misalignment shift
        teacher, head = setup.ssl
        targets, mask = teacher(batch["clean"], batch["lengths"])
        terms["l_ssl"] = head.loss(tap, targets, mask) * scales.get("ssl", 1.0)
        weighted.append((setup.ssl_weight if setup.bridge is not None else 1.0, terms["l_ssl"]))
    l_kd = sum(weight * value for weight, value in weighted) if weighted else torch.zeros((), device=enhanced.device)
    return {"loss": setup.alpha * l_se + (1 - setup.alpha) * l_kd, **terms}


def _language_model_term(
    model: torch.nn.Module, tap: torch.Tensor, batch: dict, setup: LossSetup, generator: torch.Generator | None
) -> torch.Tensor:
    """L_cma: the shifted tap, through the bridge, against the transcript's token embeddings."""
    frame_mask = torch.arange(tap.shape[1], device=tap.device)[None, :] * model.tap_hop < batch["lengths"][:, None]
    shifted, frame_mask = temporal_shift(tap, frame_mask, setup.max_shift, setup.shift_prob, generator, setup.share)
    predicted, _ = setup.bridge(shifted, frame_mask, batch["token_mask"], batch["tokens"])
    return cosine_distill_loss(predicted, batch["tokens"], batch["token_mask"])


def loss_counts(batch: dict, setup: LossSetup) -> dict[str, float]:
    """What each loss term of this batch averages over: the enhancement terms' frames, samples or
    items, the bridge's tokens, the SSL teacher's frames (for distributed.global_scales)."""
    counts = normaliser_counts(batch["lengths"], setup.loss_weights)
    if setup.bridge is not None:
        counts["cma"] = float(batch["token_mask"].sum())
    if setup.ssl is not None:
        counts["ssl"] = float(setup.ssl[0].frame_lengths(batch["lengths"]).sum())
    return counts
