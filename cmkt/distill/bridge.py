"""Cross-modal attention bridge (METHOD.md section 2, `attention`).

Projects the SE tap to the teacher's dimension, then M token-position queries (sinusoidal
position of j/M through a learned projection; never the target itself) attend over the frames.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cmkt.distill import DEFAULT_BRIDGE_STRIDE


def relative_positions(token_mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal code of each token's relative position j/M in its own sequence: (B, M, dim)."""
    counts = token_mask.sum(dim=1, keepdim=True).clamp_min(1).float()
    rel = torch.arange(token_mask.shape[1], device=token_mask.device)[None, :].float() / counts  # (B, M)
    freqs = torch.exp(torch.arange(0, dim, 2, device=token_mask.device).float() * (-math.log(1000.0) / dim))
    angles = rel[..., None] * freqs * (2 * math.pi)
    code = torch.zeros(*rel.shape, dim, device=token_mask.device)
    code[..., 0::2] = torch.sin(angles)
    code[..., 1::2] = torch.cos(angles[..., : code[..., 1::2].shape[-1]])
    return code


class FrameProjection(nn.Module):
    """What every bridge starts with: tap (B, N, D) -> P (B, N / stride, lm_dim), a 2-layer MLP.

    `stride` consecutive frames are averaged before the projection: a token spans ten or more
    8 ms frames, so the alignment keeps its resolution while the bridge's cost halves (stride 2).
    """

    def __init__(self, tap_dim: int, lm_dim: int, stride: int = DEFAULT_BRIDGE_STRIDE):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(tap_dim, lm_dim), nn.GELU(), nn.Linear(lm_dim, lm_dim))
        self.lm_dim = lm_dim
        self.stride = stride
        self.last_unmatched = 0.0  # OT bridges report the frame mass they leave unmatched

    def frames(self, tap: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, mask) on the strided frame grid; a strided frame is valid if any of its frames is."""
        if self.stride > 1:
            pad = (-tap.shape[1]) % self.stride
            tap = nn.functional.pad(tap, (0, 0, 0, pad)).unflatten(1, (-1, self.stride)).mean(dim=2)
            frame_mask = nn.functional.pad(frame_mask, (0, pad)).unflatten(1, (-1, self.stride)).any(dim=2)
        return self.project(tap), frame_mask

    @staticmethod
    def pool(frames: torch.Tensor, plan: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zhat_j = sum_i G_ij P_i / sum_i G_ij, and the alignment (B, M, N) it used."""
        weights = plan.transpose(1, 2)
        weights = weights / weights.sum(dim=2, keepdim=True).clamp_min(1e-12)
        return torch.bmm(weights, frames), weights


class AttentionBridge(FrameProjection):
    """Multi-head attention of token-position queries over the projected frames themselves.

    Each head attends over its own slice of P (keys = values = P, no further projections), so
    Zhat is, per head, an attention-weighted mean of projected frames, as in the OT bridges; a
    linear map on the M outputs mixes the heads. Dropping the key/value projections of a stock
    nn.MultiheadAttention removes two (lm_dim x lm_dim) products per frame, most of the bridge's cost.
    """

    def __init__(self, tap_dim: int, lm_dim: int, heads: int = 4, stride: int = DEFAULT_BRIDGE_STRIDE):
        super().__init__(tap_dim, lm_dim, stride)
        self.heads = heads if lm_dim % heads == 0 else 1
        self.query = nn.Linear(lm_dim, lm_dim)
        self.output = nn.Linear(lm_dim, lm_dim)

    def forward(
        self, tap: torch.Tensor, frame_mask: torch.Tensor, token_mask: torch.Tensor, tokens: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tap (B, N, D), frame_mask (B, N), token_mask (B, M) -> Zhat (B, M, lm_dim), weights (B, M, N / stride).

        `tokens` (the targets) are not used: the queries know positions only. The weights are
        the heads' mean."""
        frames, frame_mask = self.frames(tap, frame_mask)
        queries = self.query(relative_positions(token_mask, self.lm_dim))
        # an item with no valid frame would make softmax NaN: let it see its first frame
        safe_mask = frame_mask.clone()
        safe_mask[:, 0] |= ~frame_mask.any(dim=1)
        batch, n, dim = frames.shape
        per_head = dim // self.heads
        keys = frames.view(batch, n, self.heads, per_head).transpose(1, 2)  # (B, h, N, d/h)
        q = queries.view(batch, -1, self.heads, per_head).transpose(1, 2)  # (B, h, M, d/h)
        scores = (q @ keys.transpose(2, 3)) / math.sqrt(per_head)
        weights = scores.masked_fill(~safe_mask[:, None, None, :], -math.inf).softmax(dim=-1)
        pooled = (weights @ keys).transpose(1, 2).reshape(batch, -1, dim)
        return self.output(pooled), weights.mean(dim=1)
