"""The torch device a user names with --device, checked before any work starts."""

from __future__ import annotations

import torch

from cmkt.errors import CmktError


def resolve_device(name: str) -> torch.device:
    """`name` as a torch.device that can hold a tensor here, or a one-line error that says what to use."""
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CmktError(f"--device {name!r} is not available here ({reason}); use --device cpu") from None
    return device
