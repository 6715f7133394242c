"""Temporal-shift misalignment: shift acoustic frames against the text by s ~ U[-S, S]."""

from __future__ import annotations

import torch


def temporal_shift(
    tap: torch.Tensor,
    frame_mask: torch.Tensor,
    max_shift: int,
    prob: float,
    generator: torch.Generator | None = None,
    share: tuple[int, int] = (0, 1),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each item's frames by its own random integer (zero-filled); masks move with them.

    `share` = (rank, world): this batch holds items rank, rank + world, ... of a global batch; the
    shifts are drawn for the global batch, so they match a single process's draws.
    """
    if max_shift <= 0 or prob <= 0:
        return tap, frame_mask
    batch, frames = frame_mask.shape
    rank, world = share
    apply = (torch.rand(batch * world, generator=generator) < prob)[rank::world]
    shifts = torch.randint(-max_shift, max_shift + 1, (batch * world,), generator=generator)[rank::world] * apply
    source = torch.arange(frames)[None, :] - shifts[:, None]  # frame t takes frame t - s
    valid = (source >= 0) & (source < frames)
    index = source.clamp(0, frames - 1).to(tap.device)
    shifted = torch.gather(tap, 1, index[..., None].expand(-1, -1, tap.shape[-1])) * valid[..., None].to(tap.device)
    mask = torch.gather(frame_mask, 1, index) & valid.to(frame_mask.device)
    return shifted, mask
