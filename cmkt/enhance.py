"""`cmkt enhance`: the SE model alone on files, folders and arrays (no text, no language model).

This module must never import sentence-transformers or the teachers: inference stays light.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cmkt.audio import AUDIO_SUFFIXES, find_audio_files, read_audio, resample, write_audio
from cmkt.errors import CmktError
from cmkt.progress import progress_bar
from cmkt.registry import load_model, resolve_model


@dataclass
class Enhancer:
    """A loaded model and its sample rate."""

    model: torch.nn.Module
    sample_rate: int
    meta: dict

    def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return enhance_array(self, samples, sample_rate)


def load_enhancer(model: str | Path) -> Enhancer:
    """Load a checkpoint by path or installed name."""
    torch.set_flush_denormal(True)  # denormal activations slow CPU inference for no audible gain
    net, meta = load_model(resolve_model(str(model)))
    return Enhancer(net, int(meta["sample_rate"]), meta)


def enhance_array(enhancer: Enhancer, samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Enhance (n,) or (channels, n) audio at any rate; returns the same shape and rate."""
    audio = np.asarray(samples, dtype=np.float32)
    squeeze = audio.ndim == 1
    audio = audio[None, :] if squeeze else audio
    at_model_rate = resample(audio, sample_rate, enhancer.sample_rate)
    with torch.inference_mode():
        enhanced, _ = enhancer.model(torch.from_numpy(np.ascontiguousarray(at_model_rate)))
    out = resample(enhanced.numpy(), enhancer.sample_rate, sample_rate)
    out = out[:, : audio.shape[1]]
    if out.shape[1] < audio.shape[1]:
        out = np.pad(out, ((0, 0), (0, audio.shape[1] - out.shape[1])))
    return out[0] if squeeze else out


@dataclass
class EnhanceSummary:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    audio_s: float = 0.0
    compute_s: float = 0.0


def plan_outputs(inputs: list[str | Path], out_dir: Path, suffix: str = "") -> list[tuple[Path, Path]]:
    """(input, output) pairs: a folder's tree is mirrored under out_dir, a file lands at its name."""
    jobs: list[tuple[Path, Path]] = []
    for given in inputs:
        source = Path(given)
        if source.is_dir():
            for path in find_audio_files(source):
                rel = path.relative_to(source)
                jobs.append((path, out_dir / rel.with_name(rel.stem + suffix + rel.suffix)))
        else:
            jobs.append((source, out_dir / (source.stem + suffix + source.suffix)))
    return jobs


def enhance_paths(
    inputs: list[str | Path], out_dir: str | Path, model: str | Path, suffix: str = "", overwrite: bool = False
) -> EnhanceSummary:
    """Enhance every input; a bad file is reported and skipped, the others still get done."""
    enhancer = load_enhancer(model)
    out_dir = Path(out_dir)
    jobs = plan_outputs(inputs, out_dir, suffix)
    summary = EnhanceSummary()
    input_set = {p.resolve() for p, _ in jobs if p.exists()}
    with progress_bar() as bar:
        task = bar.add_task("enhancing", total=len(jobs), status="")
        for source, target in jobs:
            bar.update(task, advance=1, status=source.name[:30])
            try:
                if target.resolve() in input_set:
                    raise CmktError(f"{target}: output would overwrite an input; choose another -o folder or a --suffix")
                if target.exists() and not overwrite:
                    summary.skipped.append(target)
                    continue
                if not source.exists():
                    raise CmktError(f"{source}: no such file or folder; check the path")
                if source.suffix.lower() not in AUDIO_SUFFIXES:
                    raise CmktError(f"{source}: not a WAV/FLAC/OGG file; convert it first")
                audio = read_audio(source)
                start = time.perf_counter()
                enhanced = enhance_array(enhancer, audio.samples, audio.sample_rate)
                summary.compute_s += time.perf_counter() - start
                summary.audio_s += audio.duration_s
                write_audio(target, enhanced, audio.sample_rate, audio.subtype)
                summary.written.append(target)
            except CmktError as exc:
                summary.failed.append(str(exc))
    return summary
