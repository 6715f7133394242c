"""DeepFilterNet2's post-filter: push the gains of noise-dominated bins further down.

A mask model trained on a regression loss leaves the bins it is unsure of at middling gains, and
they are heard as residual noise (what DNSMOS BAK marks down). The post-filter of Schröter et al.
(DeepFilterNet2, 2022) maps a gain g to (1 + beta) g / (1 + beta / sin^2(pi g / 2)): a gain of 1
stays 1 and small gains shrink far more than large ones. Here it acts on each bin's effective gain
|enhanced| / |noisy|, so it covers a deep filter's output as well as the mask, and it is per frame
and stateless: streaming and offline runs stay identical. beta = 0 leaves the output as it is.
A checkpoint may carry the strength it was tuned with (its `post_filter` field; the shipped
cmkt-base-16k's was chosen on open-valid: docs/default_model/2026-12-01_post_filter_decision.md).
"""

from __future__ import annotations

import math

import torch

from cmkt.errors import CmktError

MAX_BETA = 1.0  # DeepFilterNet uses 0.02; far above 1 it silences all but the loudest bins


def check_post_filter(beta: float) -> float:
    """`beta` if usable, else a one-line error that says what to give."""
    if not (math.isfinite(beta) and 0.0 <= beta <= MAX_BETA):
        raise CmktError(f"--post-filter {beta:g}: give a strength in 0..{MAX_BETA:g} (0: off; DeepFilterNet uses 0.02)")
    return float(beta)


def resolve_post_filter(meta: dict, requested: float | None) -> float:
    """The strength to run with: the one asked for, else the checkpoint's own `post_filter` (the
    setting tuned for a shipped model; 0 for a model that records none)."""
    return check_post_filter(float(meta.get("post_filter", 0.0)) if requested is None else requested)


def post_filter(noisy: torch.Tensor, enhanced: torch.Tensor, beta: float) -> torch.Tensor:
    """`enhanced` (..., bins, 2) with each bin scaled by the post-filter of its gain over `noisy`."""
    if beta <= 0.0:
        return enhanced
    noisy_power = noisy.pow(2).sum(-1)
    gain = (enhanced.pow(2).sum(-1) / noisy_power.clamp_min(1e-20)).sqrt().clamp(max=1.0)
    sin_squared = torch.sin(0.5 * math.pi * gain).pow(2).clamp_min(1e-12)
    return enhanced * ((1.0 + beta) / (1.0 + beta / sin_squared)).unsqueeze(-1)
