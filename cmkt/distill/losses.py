"""Losses: the enhancement loss and the cosine distillation loss (L = a*L_se + (1-a)*L_cma)."""

from __future__ import annotations

import functools

import torch

from cmkt.training.config import DEFAULT_LOSS


def cosine_distill_loss(predicted: torch.Tensor, target: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """mean over real tokens of 1 - cos(Zhat_t, Z_t); zero when there is no real token."""
    cos = torch.nn.functional.cosine_similarity(predicted, target, dim=-1, eps=1e-8)
    weight = token_mask.float()
    return ((1 - cos) * weight).sum() / weight.sum().clamp_min(1.0)


def _masked(
    enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    sample_mask = (
        torch.arange(clean.shape[1], device=clean.device)[None, :] < lengths[:, None].to(clean.device)
    ).float()
    return enhanced * sample_mask, clean * sample_mask, sample_mask


SPECTRAL_HOP = 128  # spectral_mae_loss's hop; normaliser_counts counts frames of it


def spectral_mae_loss(
    enhanced: torch.Tensor,
    clean: torch.Tensor,
    lengths: torch.Tensor,
    n_fft: int = 512,
    hop: int = SPECTRAL_HOP,
    compress: float = 0.3,
    overshoot_only: bool = False,
) -> torch.Tensor:
    """MAE between power-compressed magnitude spectra, padding excluded. Its own resolution (32 ms
    frames, 8 ms hop at 16 kHz), whatever the backbone's front end: one loss for every backbone.
    Compression (0.3) lifts the quiet bins, where residual noise lives, towards the loud ones.
    `overshoot_only` keeps the part of the error where the output is above the clean speech."""
    enhanced, clean, _ = _masked(enhanced, clean, lengths)
    window = torch.hann_window(n_fft, device=clean.device)
    # zero (not reflected) edge padding: an item's frames do not depend on how much padding follows it in the batch
    spec_e, spec_c = (
        torch.stft(x, n_fft, hop, window=window, pad_mode="constant", return_complex=True)
        .abs()
        .clamp_min(1e-8)
        .pow(compress)
        for x in (enhanced, clean)
    )
    error = (spec_e - spec_c).clamp_min(0) if overshoot_only else (spec_e - spec_c).abs()
    frame_mask = (
        torch.arange(spec_c.shape[-1], device=clean.device)[None, :] * hop < lengths[:, None].to(clean.device)
    ).float()
    return (error * frame_mask[:, None, :]).sum() / (frame_mask.sum() * error.shape[1]).clamp_min(1)


def residual_noise_loss(enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The overshoot half of spectral_mae: compressed magnitude the output has above the clean speech's
    (residual noise), none for what it has below (suppressed speech). Added at weight w beside
    spectral_mae=1 it makes overshoot cost 1 + w times undershoot, so the model aims at the 1 / (2 + w)
    quantile of the clean magnitude instead of the median: a trained, per-bin lean towards suppression
    where a fixed post-filter leans everywhere (asymmetric spectral losses, e.g. Wilson et al. 2018)."""
    return spectral_mae_loss(enhanced, clean, lengths, overshoot_only=True)


def wave_mae_loss(enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    enhanced, clean, mask = _masked(enhanced, clean, lengths)
    return (enhanced - clean).abs().sum() / mask.sum().clamp_min(1)


def si_sdr_loss(enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative SI-SDR (dB) over each item's real samples, averaged over the batch."""
    enhanced, clean, mask = _masked(enhanced, clean, lengths)
    count = mask.sum(1, keepdim=True).clamp_min(1)
    enhanced = (enhanced - enhanced.sum(1, keepdim=True) / count) * mask
    clean = (clean - clean.sum(1, keepdim=True) / count) * mask
    scale = (enhanced * clean).sum(1, keepdim=True) / ((clean**2).sum(1, keepdim=True) + eps)
    target = scale * clean
    ratio = (target**2).sum(1) / (((enhanced - target) ** 2).sum(1) + eps)
    return -(10 * torch.log10(ratio + eps)).mean()


MRSTFT_FLOOR_DB = 60.0  # mrstft_relative's floor, below the clean speech's mean bin power


def mrstft_loss(
    enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor, floor_db: float | None = None
) -> torch.Tensor:
    """Multi-resolution STFT loss (spectral convergence + log magnitude at 3 resolutions), from auraloss.

    Its log-magnitude part compares bins down to auraloss's fixed power floor (1e-8), a depth that moves
    with the speech level, and a silent target bin (a pause, digital silence) weighs a great deal there.
    `floor_db` scales each item to unit clean RMS and floors every bin's power that many dB below a
    unit-RMS signal's mean bin power (at the 512-point resolution): level-invariant, and residual noise
    in a silent bin costs at most about `floor_db` of log error."""
    import auraloss

    enhanced, clean, mask = _masked(enhanced, clean, lengths)
    eps = 1e-8
    if floor_db is not None:
        rms = (clean.pow(2).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1)).sqrt().clamp_min(1e-8)
        enhanced, clean = enhanced / rms, clean / rms
        eps = 0.375 * 512 * 10 ** (-floor_db / 10)  # a Hann window's power sum over 512 points: 0.375 * 512
    loss = auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=[1024, 512, 256], hop_sizes=[256, 128, 64], win_lengths=[1024, 512, 256], eps=eps
    )
    return loss(enhanced[:, None], clean[:, None])


def mrstft_relative_loss(enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """mrstft on level-normalised items with a floor MRSTFT_FLOOR_DB below the speech (see mrstft_loss)."""
    return mrstft_loss(enhanced, clean, lengths, floor_db=MRSTFT_FLOOR_DB)


@functools.lru_cache(maxsize=8)
def _negative_stoi(sample_rate: int, extended: bool) -> torch.nn.Module:
    import warnings

    from torch_stoi import NegSTOILoss

    with warnings.catch_warnings():  # torch_stoi names a torchaudio resampling method that is being renamed
        warnings.simplefilter("ignore", UserWarning)
        return NegSTOILoss(sample_rate, extended=extended)


def stoi_loss(
    enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor, sample_rate: int = 16000, extended: bool = False
) -> torch.Tensor:
    """Negative STOI (ESTOI when `extended`), differentiable, from torch_stoi: aims the model at
    intelligibility, which spectral losses reward only indirectly. Its VAD drops the zero padding."""
    enhanced, clean, _ = _masked(enhanced, clean, lengths)
    return _negative_stoi(sample_rate, extended).to(clean.device)(enhanced, clean).mean()


def estoi_loss(
    enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor, sample_rate: int = 16000
) -> torch.Tensor:
    return stoi_loss(enhanced, clean, lengths, sample_rate, extended=True)


RATE_DEPENDENT = {"stoi", "estoi"}  # the terms that need the sample rate
ENHANCEMENT_LOSSES = {
    "spectral_mae": spectral_mae_loss,
    "residual_noise": residual_noise_loss,
    "wave_mae": wave_mae_loss,
    "si_sdr": si_sdr_loss,
    "mrstft": mrstft_loss,
    "mrstft_relative": mrstft_relative_loss,
    "stoi": stoi_loss,
    "estoi": estoi_loss,
}


def parse_loss(spec: str) -> dict[str, float]:
    """'spectral_mae=1,si_sdr=0.01' -> {name: weight}; a name alone weighs 1."""
    from cmkt.util.weighted_terms import parse_weighted_terms

    return parse_weighted_terms(spec, ENHANCEMENT_LOSSES, "--loss", DEFAULT_LOSS)


def normaliser_counts(lengths: torch.Tensor, names) -> dict[str, float]:
    """What each enhancement term averages over in this batch (frames, samples or items), so that
    data-parallel ranks holding unequal shares can weight their terms to the global batch's mean.
    mrstft (auraloss) averages over padded elements too: weighting it by items is approximate."""
    spectral_frames = float(torch.div(lengths + SPECTRAL_HOP - 1, SPECTRAL_HOP, rounding_mode="floor").sum())
    per_term = {
        "spectral_mae": spectral_frames,
        "residual_noise": spectral_frames,
        "wave_mae": float(lengths.sum()),
    }
    return {name: per_term.get(name, float(len(lengths))) for name in names}


def enhancement_loss(
    enhanced,
    clean,
    lengths,
    weights: dict[str, float],
    sample_rate: int = 16000,
    scales: dict[str, float] | None = None,
) -> torch.Tensor:
    """L_se: the weighted sum of the chosen terms; `scales` reweights each term (a rank's share of the
    global batch under torchrun, cmkt/distributed.py: global_scales)."""
    scales = scales or {}
    return sum(
        w
        * scales.get(name, 1.0)
        * (
            ENHANCEMENT_LOSSES[name](enhanced, clean, lengths, sample_rate=sample_rate)
            if name in RATE_DEPENDENT
            else ENHANCEMENT_LOSSES[name](enhanced, clean, lengths)
        )
        for name, w in weights.items()
    )
