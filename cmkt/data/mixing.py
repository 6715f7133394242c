"""Mixing speech and noise at a target SNR measured on active speech, not on silence: the one
mixing code that `cmkt prep` and dynamic mixing in `cmkt train` share."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from cmkt.audio import find_audio_files, read_audio
from cmkt.data.augment.base import Augmentation, Example
from cmkt.data.corpus import SPLITS, load_noise_folders
from cmkt.errors import CmktError

PEAK_LIMIT = 0.99
MIXING_FILE = "mixing.json"  # the settings beside the manifests, so training can mix afresh each epoch (dynamic mixing)


def rms(signal: np.ndarray) -> float:
    """Root mean square, accumulated in double precision."""
    return float(np.sqrt(np.mean(np.asarray(signal, dtype=np.float64) ** 2)))


def active_rms(signal: np.ndarray, sample_rate: int, floor_db: float = 40.0, frame_s: float = 0.02) -> float:
    """RMS over frames within `floor_db` of the loudest frame (pauses do not dilute the level)."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    frame = max(1, int(frame_s * sample_rate))
    n = len(x) // frame
    if n == 0:
        return rms(x)
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return 0.0
    active = energy[energy >= peak * 10 ** (-floor_db / 10)]
    return float(np.sqrt(active.mean()))


def pick_one(items, rng: np.random.Generator):
    """One item drawn uniformly: the single way every mixing choice (noise, SNR, room) is made,
    so a seed replays the same draws."""
    return items[int(rng.integers(0, len(items)))]


def fit_noise(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A noise segment of `length` samples from a random offset, looping short noise."""
    noise = np.asarray(noise, dtype=np.float32).reshape(-1)
    if len(noise) >= length:
        start = int(rng.integers(0, len(noise) - length + 1))
        return noise[start : start + length]
    reps = int(np.ceil(length / len(noise))) + 1
    start = int(rng.integers(0, len(noise)))
    return np.tile(noise, reps)[start : start + length]


def mix_at_snr(
    clean: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    heard: np.ndarray | None = None,
    gain_db: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (target, noisy) at `snr_db`; both are scaled down together if the mix would clip.

    `heard` is the speech as the microphone gets it (e.g. reverberant; default: `clean`): the SNR
    is measured on it and it goes into the mix, while the target stays `clean`, at the same scale.
    `gain_db` scales the whole mixture (level randomisation) before the clipping guard.
    """
    clean = np.asarray(clean, dtype=np.float32).reshape(-1)
    heard = clean if heard is None else np.asarray(heard, dtype=np.float32).reshape(-1)
    segment = fit_noise(noise, len(heard), rng)
    speech_level = active_rms(heard, sample_rate)
    noise_level = rms(segment)
    if speech_level <= 0 or noise_level <= 0:
        raise ValueError("cannot mix silent speech or silent noise at an SNR")
    gain = speech_level / (noise_level * 10 ** (snr_db / 20))
    level = 10 ** (gain_db / 20)
    noisy = (heard + gain * segment) * level
    clean = clean * level
    peak = float(np.abs(noisy).max())
    if peak > PEAK_LIMIT:
        scale = PEAK_LIMIT / peak
        clean, noisy = clean * scale, noisy * scale
    return clean.astype(np.float32), noisy.astype(np.float32)


def reverberate(clean: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Speech convolved with a room impulse response (scipy's fftconvolve, which pads to a fast FFT
    length: 15-50x faster here than torchaudio's for these sizes), aligned at the RIR's direct
    path and cut to the speech's length, so the target stays time-aligned."""
    import scipy.signal

    rir = np.asarray(rir, dtype=np.float32).reshape(-1)
    peak = int(np.argmax(np.abs(rir)))
    rir = rir / (np.abs(rir[peak]) + 1e-12)
    wet = scipy.signal.fftconvolve(np.asarray(clean, dtype=np.float32), rir)
    return wet[peak : peak + len(clean)].astype(np.float32)


@dataclass(frozen=True)
class MixingSettings:
    """What decides a mixture (prep's settings less its paths out and its teacher): written beside
    the manifests as mixing.json, so training can mix afresh each epoch (dynamic mixing)."""

    noise: str | None
    snrs: tuple[float, ...] = (0.0, 5.0, 10.0)
    snr_range: tuple[float, float] | None = None  # uniform in [lo, hi] instead of the snrs list
    gain_db: tuple[float, float] | None = None  # random level of the whole mixture
    rir: str | None = None  # folder of room impulse responses, applied to every split
    rir_prob: float = 0.5
    sample_rate: int = 16000


def settings_of(source) -> MixingSettings:
    """The mixing settings of a PrepConfig, a MixingSettings or a mixing.json dict (extra keys ignored)."""
    values = source if isinstance(source, dict) else {f.name: getattr(source, f.name) for f in fields(MixingSettings)}
    values = {f.name: values[f.name] for f in fields(MixingSettings) if f.name in values}
    for key in ("snrs", "snr_range", "gain_db"):
        values[key] = tuple(values[key]) if values.get(key) else values.get(key)
    return MixingSettings(**values)


class Mixer:
    """The noise, SNR, level and room drawn for one utterance: the same code for every split.

    The draws run in a fixed order, so a seed replays a mixture: noise, SNR, level; then the
    augmentations of the speech stage, prep's room, the room stage, the noise stage; the mix; and
    the mixture stage (cmkt/data/augment/base.py: STAGES). Augmentations act on train examples only."""

    def __init__(self, config, splits: tuple[str, ...] = SPLITS, augmentations: list[Augmentation] | tuple = ()):
        self.config = settings_of(config)
        self.augmentations = list(augmentations)
        self.noises = load_noise_folders(self.config.noise, splits) if self.config.noise else None
        self.rirs = find_audio_files(self.config.rir) if self.config.rir else []
        if self.config.rir and not self.rirs:
            raise CmktError(f"{self.config.rir}: no impulse responses (WAV/FLAC) found; check --rir")
        if not self.config.snrs and not self.config.snr_range:
            raise CmktError("no SNR given; pass --snr values or --snr-range LO HI")
        self._audio: dict[Path, np.ndarray] = {}

    def load(self, path: Path) -> np.ndarray:
        """A noise or room recording at the mixing rate, read once."""
        if path not in self._audio:
            self._audio[path] = read_audio(path, sample_rate=self.config.sample_rate, mono=True).samples[0]
        return self._audio[path]

    def _run(self, stage: str, example: Example, rng: np.random.Generator) -> None:
        for step in self.augmentations:
            if step.stage == stage:
                step(example, rng, self)

    def mix(self, clean: np.ndarray, split: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
        """(target, noisy, what was drawn) for one utterance of `split`."""
        if self.noises is None:
            raise CmktError(
                "this corpus has no noisy version of its own; pass --noise with a folder of noise recordings"
            )
        if not self.noises.get(split):
            raise CmktError(
                f"{self.config.noise}: no {split} noise to mix with; add a {split}/ subfolder of noise recordings"
            )
        config = self.config
        noise_path = pick_one(self.noises[split], rng)
        snr = round(float(rng.uniform(*config.snr_range)), 2) if config.snr_range else float(pick_one(config.snrs, rng))
        gain = round(float(rng.uniform(*config.gain_db)), 2) if config.gain_db else 0.0
        example = Example(
            target=clean,
            heard=clean,
            noise=self.load(noise_path),
            sample_rate=config.sample_rate,
            split=split,
            drawn={"noise": noise_path.stem, "snr_db": snr, "gain_db": gain, "rir": ""},
        )
        self._run("speech", example, rng)
        if self.rirs and rng.random() < config.rir_prob:
            rir_path = pick_one(self.rirs, rng)
            example.heard, example.drawn["rir"] = reverberate(example.target, self.load(rir_path)), rir_path.stem
        self._run("room", example, rng)
        self._run("noise", example, rng)
        heard = None if example.heard is example.target else example.heard
        example.target, example.noisy = mix_at_snr(
            example.target, example.noise, snr, config.sample_rate, rng, heard=heard, gain_db=gain
        )
        self._run("mixture", example, rng)
        return example.target, example.noisy, example.drawn


def load_mixer(folder: str | Path, augment: str = "", rirs: str | Path | None = None) -> Mixer:
    """The Mixer that `cmkt prep` used for the manifests in `folder` (for dynamic mixing), with the
    train-split augmentations that the `augment` list names (cmkt/data/augment/registry.py)."""
    from cmkt.data.augment.registry import parse_augmentations  # its steps import this module

    path = Path(folder) / MIXING_FILE
    if not path.is_file():
        raise CmktError(
            f"{path}: no mixing settings beside the manifest; rerun `cmkt prep` (with --noise) to write them"
        )
    settings = settings_of(json.loads(path.read_text(encoding="utf-8")))
    if not settings.noise:
        raise CmktError(
            f"{path}: this data was prepared without --noise (its noisy side came with the corpus); train without "
            f"--dynamic-mixing"
        )
    return Mixer(
        settings, splits=("train",), augmentations=parse_augmentations(augment, rirs)
    )  # dynamic mixing draws train noises only
