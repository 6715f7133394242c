"""Noise augmentation for dynamic mixing: a few recordings made to sound like many.

A model trained on a handful of noise recordings learns those recordings (the shipped model
scores PESQ-WB 2.42 with them and 1.19 with noises it never heard). Re-pitching, re-colouring and
layering the training noises on the fly widens what it hears, as the DNS-challenge recipes do.
Everything is drawn from the caller's generator, so a seed repeats the same noises."""

from __future__ import annotations

import numpy as np

from cmkt.data.augment.base import Augmentation, Example
from cmkt.data.augment.equalizer import random_equalizer
from cmkt.data.mixing import fit_noise, pick_one, rms

SPEED_RANGE = (0.7, 1.4)  # playback-rate factor: every frequency and the tempo move together
EQ_GAIN_DB = 12.0  # each peaking filter boosts or cuts up to this much
LAYER_PROB = 0.3  # how often a second noise is layered under the first
LAYER_LEVEL_DB = (-10.0, 0.0)  # its level, relative RMS
ENVELOPE_PROB = 0.5  # how often a noise gets a drifting level (with envelope=True)
ENVELOPE_DEPTH_DB = (3.0, 12.0)  # its largest swing either side of the mean level, drawn per noise
ENVELOPE_RATE_HZ = (0.1, 3.0)  # rates of the slow sinusoids it is made of, drawn log-uniform


def level_envelope(length: int, sample_rate: int, rng: np.random.Generator, sinusoids: int = 3) -> np.ndarray:
    """A smooth random gain curve (linear, mean level 0 dB give or take): a sum of slow sinusoids in dB.

    Real noise rises and falls (a vehicle passing, a tap opened, a room filling) while most
    recordings in a small training set hold one level; drifting the level teaches the model to
    follow a noise floor that moves. The SNR is set afterwards on the whole segment, so the local
    SNR swings around it."""
    t = np.arange(length) / sample_rate
    curve_db = np.zeros(length)
    for _ in range(sinusoids):
        rate = float(np.exp(rng.uniform(*np.log(ENVELOPE_RATE_HZ))))
        curve_db += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    curve_db *= float(rng.uniform(*ENVELOPE_DEPTH_DB)) / max(float(np.abs(curve_db).max()), 1e-9)
    return (10 ** (curve_db / 20)).astype(np.float32)


def augment_noise(
    noise: np.ndarray, length: int, sample_rate: int, rng: np.random.Generator, partner: np.ndarray | None = None
) -> np.ndarray:
    """A `length`-sample noise segment cut from `noise`, with a random speed change (p 0.5), one to
    three random peaking filters (p 0.5) and `partner` layered under it (when given)."""
    import torch  # imported here: the CLI starts without torch
    import torchaudio.functional as AF

    speed = (
        round(float(rng.uniform(*SPEED_RANGE)), 2) if rng.random() < 0.5 else 1.0
    )  # 2 decimals: an exact 100:k resampling ratio
    segment = fit_noise(noise, int(np.ceil(length * speed)) + 1, rng)
    x = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))
    if speed != 1.0:  # read at rate*speed, written at rate: pitch and tempo scale by speed
        x = AF.resample(x, int(round(100 * speed)), 100)
    x = x[:length]
    if len(x) < length:  # the resampler's rounding can leave a sample short
        x = torch.cat([x, x[: length - len(x)]])
    if partner is not None:
        other = np.ascontiguousarray(fit_noise(partner, length, rng), dtype=np.float32)
        level = 10 ** (float(rng.uniform(*LAYER_LEVEL_DB)) / 20)
        x = x + torch.from_numpy(other) * level * rms(x.numpy()) / max(rms(other), 1e-9)
    if rng.random() < 0.5:  # the SNR re-levels the noise later
        x = random_equalizer(x, sample_rate, rng, EQ_GAIN_DB)
    return x.numpy().astype(np.float32)


class NoiseVariety(Augmentation):
    """`noise`: every train noise re-pitched, re-coloured and (p LAYER_PROB) layered over another."""

    name, stage = "noise", "noise"

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        partner = pool.load(pick_one(pool.noises[example.split], rng)) if rng.random() < LAYER_PROB else None
        example.noise = augment_noise(example.noise, len(example.heard), example.sample_rate, rng, partner)


class NoiseEnvelope(Augmentation):
    """`noise_envelope`: the noise's level drifts (p ENVELOPE_PROB by default); after `noise` when both are on."""

    name, stage, default_p = "noise_envelope", "noise", ENVELOPE_PROB

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        length = len(example.heard)
        segment = example.noise if len(example.noise) == length else fit_noise(example.noise, length, rng)
        example.noise = (segment * level_envelope(length, example.sample_rate, rng)).astype(np.float32)
