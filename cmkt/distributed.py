"""Data parallelism under torchrun: each rank takes its share of every global batch, weights each
loss term by its share of the global batch's frames, samples or tokens (global_scales), and the
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


def pad_to_global_length(batch: dict, size: int) -> dict:
    """The batch's waveforms zero-padded to the longest item of the global batch, as one process
    pads them: terms such as STOI see an item's padding, so every rank must pad alike."""
    if size == 1:
        return batch
    import torch.distributed as dist

    longest = torch.tensor([batch["clean"].shape[1]])
    dist.all_reduce(longest, op=dist.ReduceOp.MAX)
    extra = int(longest) - batch["clean"].shape[1]
    if extra:
        batch = {**batch, **{key: torch.nn.functional.pad(batch[key], (0, extra)) for key in ("clean", "noisy")}}
    return batch


def global_scales(counts: dict[str, float], size: int) -> dict[str, float]:
    """Per loss term, size x this rank's count / the global count: a rank's mean-normalised term times
    its scale, averaged over ranks, is the term's mean over the global batch (whatever the split of
    frames, samples or tokens between ranks). All ones in one process."""
    if size == 1:
        return {name: 1.0 for name in counts}
    import torch.distributed as dist

    names = sorted(counts)
    local = torch.tensor([counts[name] for name in names], dtype=torch.float64)
    total = local.clone()
    dist.all_reduce(total)
    return {name: float(size * local[i] / total[i]) if total[i] > 0 else 0.0 for i, name in enumerate(names)}


def global_mean(values: list[float], size: int) -> list[float]:
    """The mean of each value over the ranks (each rank's scaled loss: their mean is the global loss)."""
    if size == 1:
        return values
    import torch.distributed as dist

    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return (total / size).tolist()


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
