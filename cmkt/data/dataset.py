"""The training dataset: (noisy, clean, teacher tokens) with padding-aware batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cmkt.audio import read_audio
from cmkt.data.manifest import Utterance, read_manifest


class SEDataset(torch.utils.data.Dataset):
    """Utterances of one manifest; long ones are cropped (and then lose their transcript loss)."""

    def __init__(
        self, manifest: str | Path, sample_rate: int, max_seconds: float = 4.0, cache=None, seed: int = 0, mixer=None
    ):
        """`mixer` (a cmkt.data.prep.Mixer): mix every utterance afresh each epoch (dynamic mixing) with
        the same code as `cmkt prep`; utterances whose corpus brought its own noisy side keep it."""
        self.utterances: list[Utterance] = [u for u in read_manifest(manifest) if u.noisy]
        self.mixer = mixer
        self.sample_rate = sample_rate
        self.max_len = int(max_seconds * sample_rate)
        self.cache = cache
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> dict:
        utt = self.utterances[index]
        clean = read_audio(utt.clean, sample_rate=self.sample_rate, mono=True).samples[0]
        if self.mixer is not None and utt.snr_db is not None:
            clean, noisy, _ = self.mixer.mix(clean, utt.split, np.random.default_rng((self.seed, self.epoch, index, 1)))
        else:
            noisy = read_audio(utt.noisy, sample_rate=self.sample_rate, mono=True).samples[0]
        length = min(len(clean), len(noisy))
        tokens = self.cache.get(utt.text) if (self.cache is not None and utt.text) else None
        if length > self.max_len:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            start = int(rng.integers(0, length - self.max_len + 1))
            clean, noisy, length, tokens = (
                clean[start : start + self.max_len],
                noisy[start : start + self.max_len],
                self.max_len,
                None,
            )
        return {
            "clean": torch.from_numpy(clean[:length].copy()),
            "noisy": torch.from_numpy(noisy[:length].copy()),
            "tokens": None if tokens is None else torch.from_numpy(tokens),
            "id": utt.id,
        }


def collate(batch: list[dict]) -> dict:
    """Pad waveforms and token sequences; masks tell the losses what is real."""
    lengths = torch.tensor([len(b["clean"]) for b in batch])
    max_len = int(lengths.max())
    clean = torch.zeros(len(batch), max_len)
    noisy = torch.zeros(len(batch), max_len)
    for i, b in enumerate(batch):
        clean[i, : lengths[i]] = b["clean"]
        noisy[i, : lengths[i]] = b["noisy"]
    token_counts = torch.tensor([0 if b["tokens"] is None else b["tokens"].shape[0] for b in batch])
    dim = next((b["tokens"].shape[1] for b in batch if b["tokens"] is not None), 1)
    tokens = torch.zeros(len(batch), max(1, int(token_counts.max())), dim)
    for i, b in enumerate(batch):
        if b["tokens"] is not None:
            tokens[i, : token_counts[i]] = b["tokens"]
    token_mask = torch.arange(tokens.shape[1])[None, :] < token_counts[:, None]
    return {
        "clean": clean,
        "noisy": noisy,
        "lengths": lengths,
        "tokens": tokens,
        "token_mask": token_mask,
        "ids": [b["id"] for b in batch],
    }


class StepBatches(torch.utils.data.Dataset):
    """Batch k of a run as a function of (seed, k) alone, so loader workers and `--resume` give the same batches.

    Epoch e visits the utterances in an order drawn from (seed, e); under torchrun each rank takes
    its `share` (rank, world) of the global batch.
    """

    def __init__(self, dataset: SEDataset, batch_size: int, seed: int, share: tuple[int, int] = (0, 1)):
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.share = share
        self.batches_per_epoch = max(1, len(dataset) // batch_size)

    def __len__(self) -> int:
        return 2**62  # indexed by step; the loader's sampler says which steps

    def __getitem__(self, step: int) -> dict:
        epoch, position = divmod(step, self.batches_per_epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
        self.dataset.epoch = epoch
        indices = order[position * self.batch_size : (position + 1) * self.batch_size].tolist()
        rank, world = self.share
        return collate([self.dataset[i] for i in indices[rank::world]])


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on `device` (ids stay as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
