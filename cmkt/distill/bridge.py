"""Cross-modal attention bridge (METHOD.md section 2, `attention`).

Projects the SE tap to the teacher's dimension, then M token-position queries (sinusoidal
position of j/M through a learned projection; never the target itself) attend over the frames.
"""
from __future__ import annotations

import math

import torch
from torch import nn


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
    """What every bridge starts with: tap (B, N, D) -> P (B, N, lm_dim), a 2-layer MLP."""

    def __init__(self, tap_dim: int, lm_dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(tap_dim, lm_dim), nn.GELU(), nn.Linear(lm_dim, lm_dim))
        self.lm_dim = lm_dim
        self.last_unmatched = 0.0  # OT bridges report the frame mass they leave unmatched

    @staticmethod
    def pool(frames: torch.Tensor, plan: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zhat_j = sum_i G_ij P_i / sum_i G_ij, and the alignment (B, M, N) it used."""
        weights = plan.transpose(1, 2)
        weights = weights / weights.sum(dim=2, keepdim=True).clamp_min(1e-12)
        return torch.bmm(weights, frames), weights


class AttentionBridge(FrameProjection):
    def __init__(self, tap_dim: int, lm_dim: int, heads: int = 4):
        super().__init__(tap_dim, lm_dim)
        self.query = nn.Linear(lm_dim, lm_dim)
        self.attention = nn.MultiheadAttention(lm_dim, heads, batch_first=True)

    def forward(self, tap: torch.Tensor, frame_mask: torch.Tensor, token_mask: torch.Tensor, tokens: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """tap (B, N, D), frame_mask (B, N), token_mask (B, M) -> Zhat (B, M, lm_dim), weights (B, M, N).

        `tokens` (the targets) are not used: the queries know positions only."""
        frames = self.project(tap)
        queries = self.query(relative_positions(token_mask, self.lm_dim))
        # an item with no valid frame would make softmax NaN: let it see its first frame
        safe_mask = frame_mask.clone()
        safe_mask[:, 0] |= ~frame_mask.any(dim=1)
        predicted, weights = self.attention(queries, frames, frames, key_padding_mask=~safe_mask, need_weights=True)
        return predicted, weights
