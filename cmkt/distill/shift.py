"""Temporal-shift misalignment: shift acoustic frames against the text by s ~ U[-S, S]."""
from __future__ import annotations

import torch


def temporal_shift(
    tap: torch.Tensor, frame_mask: torch.Tensor, max_shift: int, prob: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each item's frames by its own random integer (zero-filled); masks move with them."""
    if max_shift <= 0 or prob <= 0:
        return tap, frame_mask
    batch, frames = frame_mask.shape
    apply = torch.rand(batch, generator=generator) < prob
    shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=generator) * apply
    source = torch.arange(frames)[None, :] - shifts[:, None]  # frame t takes frame t - s
    valid = (source >= 0) & (source < frames)
    index = source.clamp(0, frames - 1).to(tap.device)
    shifted = torch.gather(tap, 1, index[..., None].expand(-1, -1, tap.shape[-1])) * valid[..., None].to(tap.device)
    mask = torch.gather(frame_mask, 1, index) & valid.to(frame_mask.device)
    return shifted, mask
