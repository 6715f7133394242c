"""`--shard K/N`: a deterministic share of a sorted job list, so N processes (a SLURM array,
torchrun ranks, several machines) together do every item exactly once."""

from __future__ import annotations

from typing import Sequence, TypeVar

from cmkt.errors import CmktError

T = TypeVar("T")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'K/N' (1 <= K <= N) -> (K, N); None or '' -> None (all items)."""
    if not text:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise CmktError(f"--shard {text!r}: expected K/N such as 1/4 (this is part K of N)") from None
    if not 1 <= k <= n:
        raise CmktError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def take_shard(items: Sequence[T], shard: tuple[int, int] | None) -> list[T]:
    """Items K, K+N, K+2N, ... (1-based): shards interleave, so long and short items spread evenly."""
    if shard is None:
        return list(items)
    k, n = shard
    return list(items[k - 1 :: n])
