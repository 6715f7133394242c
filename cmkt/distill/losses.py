"""Losses: the enhancement loss and the cosine distillation loss (L = a*L_se + (1-a)*L_cma)."""
from __future__ import annotations

import torch


def cosine_distill_loss(predicted: torch.Tensor, target: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """mean over real tokens of 1 - cos(Zhat_t, Z_t); zero when there is no real token."""
    cos = torch.nn.functional.cosine_similarity(predicted, target, dim=-1, eps=1e-8)
    weight = token_mask.float()
    return ((1 - cos) * weight).sum() / weight.sum().clamp_min(1.0)


def spectral_mae_loss(
    enhanced: torch.Tensor, clean: torch.Tensor, lengths: torch.Tensor, n_fft: int = 512, hop: int = 128, compress: float = 0.3
) -> torch.Tensor:
    """MAE between power-compressed magnitude spectra plus waveform MAE, padding excluded."""
    sample_mask = (torch.arange(clean.shape[1], device=clean.device)[None, :] < lengths[:, None].to(clean.device)).float()
    enhanced, clean = enhanced * sample_mask, clean * sample_mask
    window = torch.hann_window(n_fft, device=clean.device)
    spec_e = torch.stft(enhanced, n_fft, hop, window=window, return_complex=True).abs().clamp_min(1e-8).pow(compress)
    spec_c = torch.stft(clean, n_fft, hop, window=window, return_complex=True).abs().clamp_min(1e-8).pow(compress)
    frame_mask = (torch.arange(spec_c.shape[-1], device=clean.device)[None, :] * hop < lengths[:, None].to(clean.device)).float()
    spec_loss = ((spec_e - spec_c).abs() * frame_mask[:, None, :]).sum() / (frame_mask.sum() * spec_c.shape[1]).clamp_min(1)
    wave_loss = ((enhanced - clean).abs() * sample_mask).sum() / sample_mask.sum().clamp_min(1)
    return spec_loss + wave_loss
