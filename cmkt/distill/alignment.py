"""Optimal-transport and uniform bridges (METHOD.md section 2: `uot`, `tot`, `uniform`).

All share AttentionBridge's call: (tap, frame_mask, token_mask, tokens) -> (Zhat, alignment),
alignment (B, M, N) with rows summing to 1 over a token's frames. Everything is batched with
padding masks; nothing loops over items.

OT: cost C_ij = 1 - cos(P_i, Z_j) between projected frames P and teacher tokens Z; the plan G
solves entropic unbalanced OT with the token marginal hard (every token is grounded somewhere)
and the frame marginal relaxed by tau (silence and noise frames may stay unmatched), by
log-domain Sinkhorn. `tot` multiplies the kernel by an order prior so that neighbouring frames go
to neighbouring tokens. G is detached (METHOD.md's stable default): gradients reach the frames
through Zhat_j = sum_i G_ij P_i / sum_i G_ij.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cmkt.distill import DEFAULT_BRIDGE_STRIDE
from cmkt.distill.bridge import AttentionBridge, FrameProjection
from cmkt.errors import CmktError


def log_marginals(mask: torch.Tensor) -> torch.Tensor:
    """log of the uniform distribution over each row's valid positions; -inf at padding."""
    counts = mask.sum(dim=1, keepdim=True).clamp_min(1).float()
    return torch.where(mask, -torch.log(counts), torch.full_like(counts.expand_as(mask), -math.inf))


def order_log_prior(frame_mask: torch.Tensor, token_mask: torch.Tensor, delta: float) -> torch.Tensor:
    """log of exp(-l_ij^2 / (2 delta^2)), l_ij = |i/N - j/M| / sqrt(1/N^2 + 1/M^2), per item's own N and M."""
    n = frame_mask.sum(1, keepdim=True).clamp_min(1).float()[:, :, None]
    m = token_mask.sum(1, keepdim=True).clamp_min(1).float()[:, None, :]
    i = torch.arange(frame_mask.shape[1], device=frame_mask.device).float()[None, :, None]
    j = torch.arange(token_mask.shape[1], device=token_mask.device).float()[None, None, :]
    distance = (i / n - j / m).abs() / torch.sqrt(1 / n**2 + 1 / m**2)
    return -(distance**2) / (2 * delta**2)


def sinkhorn_plan(
    cost: torch.Tensor,
    frame_mask: torch.Tensor,
    token_mask: torch.Tensor,
    eps: float = 0.1,
    tau: float = 1.0,
    iterations: int = 50,
    log_prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """Plan G (B, N, M) of min <G,C> + eps KL(G|ab^T) + tau KL(G1|a) with G^T 1 = b exactly.

    tau = inf gives balanced OT (both marginals hard).
    """
    log_a, log_b = log_marginals(frame_mask), log_marginals(token_mask)
    valid = frame_mask[:, :, None] & token_mask[:, None, :]
    log_k = -cost / eps + (log_prior if log_prior is not None else 0.0)
    log_k = log_k.masked_fill(~valid, -math.inf)
    power = 1.0 if math.isinf(tau) else tau / (tau + eps)
    log_u, log_v = torch.zeros_like(log_a), torch.zeros_like(log_b)
    for _ in range(iterations):
        log_u = power * (log_a - torch.logsumexp(log_k + log_v[:, None, :], dim=2))
        log_u = log_u.masked_fill(~frame_mask, -math.inf)
        log_v = log_b - torch.logsumexp(log_k + log_u[:, :, None], dim=1)
        log_v = log_v.masked_fill(~token_mask, -math.inf)
    plan = torch.exp(log_u[:, :, None] + log_k + log_v[:, None, :])
    return torch.nan_to_num(plan, nan=0.0)


def unmatched_frame_mass(plan: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """Share of the frames' mass that the plan leaves behind, per item: 0.5 * |G1 - a|_1."""
    a = log_marginals(frame_mask).exp()
    return 0.5 * (plan.sum(dim=2) - a).abs().sum(dim=1)


class OtBridge(FrameProjection):
    def __init__(
        self,
        tap_dim: int,
        lm_dim: int,
        eps: float = 0.1,
        tau: float = 1.0,
        iterations: int = 50,
        order_prior: bool = False,
        delta: float = 1.0,
        stride: int = DEFAULT_BRIDGE_STRIDE,
    ):
        super().__init__(tap_dim, lm_dim, stride)
        self.eps, self.tau, self.iterations, self.order_prior, self.delta = eps, tau, iterations, order_prior, delta

    def forward(self, tap, frame_mask, token_mask, tokens):
        frames, frame_mask = self.frames(tap, frame_mask)
        with torch.no_grad():
            cost = 1 - torch.nn.functional.normalize(frames, dim=-1) @ torch.nn.functional.normalize(
                tokens, dim=-1
            ).transpose(1, 2)
            prior = order_log_prior(frame_mask, token_mask, self.delta) if self.order_prior else None
            plan = sinkhorn_plan(cost, frame_mask, token_mask, self.eps, self.tau, self.iterations, prior)
            self.last_unmatched = (
                float(unmatched_frame_mass(plan, frame_mask)[token_mask.any(1)].mean()) if token_mask.any() else 0.0
            )
        return self.pool(frames, plan)


class UniformBridge(FrameProjection):
    """Token j owns frames [j N/M, (j+1) N/M) of its item (a naive baseline for the ablation)."""

    def forward(self, tap, frame_mask, token_mask, tokens=None):
        frames, frame_mask = self.frames(tap, frame_mask)
        n = frame_mask.sum(1, keepdim=True).clamp_min(1)
        m = token_mask.sum(1, keepdim=True).clamp_min(1)
        frame_index = torch.arange(frame_mask.shape[1], device=frames.device)[None, :]
        token_index = torch.arange(token_mask.shape[1], device=frames.device)[None, :]
        token_of_frame = frame_index * m // n  # (B, N)
        frame_of_token = token_index * n // m  # (B, M): a token gets a frame even when M > N
        plan = (token_of_frame[:, :, None] == token_index[:, None, :]) | (
            frame_index[:, :, None] == frame_of_token[:, None, :]
        )
        plan = (plan & frame_mask[:, :, None] & token_mask[:, None, :]).float()
        return self.pool(frames, plan)


ALIGNMENTS = ("attention", "uot", "tot", "uniform")


def build_bridge(
    kind: str,
    tap_dim: int,
    lm_dim: int,
    eps: float = 0.1,
    tau: float = 1.0,
    delta: float = 1.0,
    stride: int = DEFAULT_BRIDGE_STRIDE,
) -> nn.Module:
    """The bridge for `--align` (frames averaged in groups of `stride` before the projection)."""
    if stride < 1:
        raise CmktError(f"--bridge-stride {stride}: must be 1 or more")
    if kind == "attention":
        return AttentionBridge(tap_dim, lm_dim, stride=stride)
    if kind in ("uot", "tot"):
        return OtBridge(tap_dim, lm_dim, eps, tau, order_prior=kind == "tot", delta=delta, stride=stride)
    if kind == "uniform":
        return UniformBridge(tap_dim, lm_dim, stride)
    raise CmktError(f"unknown alignment {kind!r}; choose one of {', '.join(ALIGNMENTS)}")
