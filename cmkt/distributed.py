"""Data parallelism under torchrun: each rank takes its share of every global batch and the
gradients are averaged, so N processes train like one process with the same global batch.

gloo on CPU, nccl on GPUs. Without torchrun (WORLD_SIZE unset) everything here is a no-op.
"""
from __future__ import annotations

import os

import torch


def rank_and_size() -> tuple[int, int]:
    """This process's rank and the world size; joins the process group on first use."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), size


def average_gradients(params: list[torch.nn.Parameter], size: int) -> None:
    """Mean of every rank's gradients, in one flat all-reduce (a parameter a rank did not use counts as zero)."""
    if size == 1:
        return
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset : offset + g.numel()].view_as(g).clone()
        offset += g.numel()


def agree(flag: bool, size: int) -> bool:
    """Rank 0's decision (e.g. to stop early), the same on every rank."""
    if size == 1:
        return flag
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0])
    dist.broadcast(value, src=0)
    return bool(value.item())


def finish(size: int) -> None:
    if size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
