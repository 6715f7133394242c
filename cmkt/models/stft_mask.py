"""A small causal STFT-domain mask model: conv encoder + GRU + decoder (about 1M parameters).

Causal in frames: the mask of frame t depends on frames <= t only, and every layer can take
its state from the previous call, so the same weights run offline, frame by frame
(`cmkt.inference.streaming`) and exported. Its GRU output is the distillation tap by default
(`tap: encoder` reads the conv encoder below it instead; inference is the same either way).

`tap: branch` gives the distillation its own path (issue 30): a small parallel GRU reads the
encoder output, the bridge reads the branch, and the branch feeds back into the mask GRU's input
through a layer that starts at zero. The distillation then shapes features the mask path may use,
without owning the state that must predict the mask. The branch stays in the shipped weights (it
feeds the mask); the bridge's projection to the teacher's width is training-only, as for every tap.

`deep_filter_order > 0` adds a DeepFilterNet-style deep filter on the low bins: a complex filter
over the current and past frames, predicted per frame and added to the masked spectrum. A real
mask cannot restore phase or the harmonics the noise buried; a filter over past frames can. Its
layer starts at zero, so a model grown from a trained one (`cmkt train --init ... --model-config`)
starts out enhancing exactly as that one did.

`refine_layers > 0` stacks a second GRU (that many layers) on the mask GRU, added back through a
layer that starts at zero: more recurrent depth for the mask and filter to read (the compute budget
allows about four times today's cost), grown onto a trained model without changing its output at
the start, the way the deep filter and the branch are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cmkt.errors import CmktError
from cmkt.models.base import StreamingBackbone
from cmkt.models.framing import CausalStft
from cmkt.models.post_filter import post_filter

State = list[torch.Tensor]  # [context of each causal conv..., GRU hidden]: flat, so it exports


@dataclass
class StftMaskConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    hidden: int = 256
    conv_kernel: int = 3
    gru_layers: int = 1
    compress: float = 0.3  # power-law compression of the magnitude fed to the network
    tap: str = "gru"  # what the bridge reads (training only): "gru" output, the conv "encoder" below it, or "branch"
    branch_hidden: int = 128  # width of the linguistic branch (tap "branch" only)
    deep_filter_order: int = 0  # frames (current and past) the deep filter spans; 0: mask only
    deep_filter_bins: int = 129  # lowest bins it filters (129 of 257: 0-4 kHz, where STOI's bands are)
    refine_layers: int = 0  # layers of the residual GRU stacked on the mask GRU; 0: none


class CausalConv1d(nn.Conv1d):
    """Conv1d over time that only looks back; the look-back comes from the previous call."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        keep = self.kernel_size[0] - 1
        if context is None:
            context = x.new_zeros(x.shape[0], x.shape[1], keep)
        full = torch.cat([context, x], dim=-1)
        return super().forward(full), full[..., full.shape[-1] - keep :]


TAPS = ("gru", "encoder", "branch")


class StftMaskNet(StreamingBackbone):
    tap_dim_field, tap_hop_field = "hidden", "hop"
    growth_settings = (
        "deep_filter_order",
        "deep_filter_bins",
        "tap",
        "branch_hidden",
        "refine_layers",
    )  # --init may switch these on: the added layer starts at zero
    growth_free = ("branch.", "refiner.")  # added weights that may start non-zero: their only way out starts at zero

    def __init__(self, config: StftMaskConfig):
        super().__init__()
        if config.tap not in TAPS:
            raise CmktError(f"stft-mask-gru tap {config.tap!r}: choose one of {', '.join(TAPS)} (--model-config)")
        self.config = config
        self.stft = CausalStft(config.n_fft, config.hop)
        bins = self.stft.bins
        self.input_norm = nn.LayerNorm(bins)
        self.encoder = nn.Sequential(
            CausalConv1d(bins, config.hidden, config.conv_kernel),
            nn.PReLU(),
            CausalConv1d(config.hidden, config.hidden, config.conv_kernel),
            nn.PReLU(),
        )
        self.gru = nn.GRU(config.hidden, config.hidden, num_layers=config.gru_layers, batch_first=True)
        self.branch = self.branch_feedback = None
        if config.tap == "branch":
            self.branch = nn.GRU(config.hidden, config.branch_hidden, batch_first=True)
            self.branch_feedback = nn.Linear(config.branch_hidden, config.hidden)
            nn.init.zeros_(self.branch_feedback.weight)
            nn.init.zeros_(self.branch_feedback.bias)
        self.refiner = self.refiner_out = None
        if config.refine_layers:
            if config.refine_layers < 0:
                raise CmktError(f"stft-mask-gru refine_layers {config.refine_layers}: use 0 or more (--model-config)")
            self.refiner = nn.GRU(config.hidden, config.hidden, num_layers=config.refine_layers, batch_first=True)
            self.refiner_out = nn.Linear(config.hidden, config.hidden)
            nn.init.zeros_(self.refiner_out.weight)
            nn.init.zeros_(self.refiner_out.bias)
        self.decoder = nn.Sequential(
            nn.Linear(config.hidden, config.hidden), nn.PReLU(), nn.Linear(config.hidden, bins)
        )
        self.deep_filter = None
        if config.deep_filter_order:
            if config.deep_filter_order < 0 or not 0 < config.deep_filter_bins <= bins:
                raise CmktError(
                    f"stft-mask-gru deep filter: order {config.deep_filter_order} and bins {config.deep_filter_bins}: "
                    f"use order >= 0 and 1..{bins} bins (--model-config)"
                )
            self.deep_filter = nn.Linear(config.hidden, config.deep_filter_bins * config.deep_filter_order * 2)
            nn.init.zeros_(self.deep_filter.weight)
            nn.init.zeros_(self.deep_filter.bias)

    @property
    def tap_dim(self) -> int:
        return self.config.branch_hidden if self.config.tap == "branch" else self.config.hidden

    def init_state(self, batch: int) -> State:
        """Zero state: what offline processing assumes before the first frame."""
        device = self.input_norm.weight.device
        convs = [self.encoder[i] for i in range(0, len(self.encoder), 2)]
        contexts = [torch.zeros(batch, conv.in_channels, conv.kernel_size[0] - 1, device=device) for conv in convs]
        state = contexts + [torch.zeros(self.config.gru_layers, batch, self.config.hidden, device=device)]
        if self.config.deep_filter_order > 1:  # the past spectra the filter reaches back to
            state.append(
                torch.zeros(batch, self.config.deep_filter_order - 1, self.config.deep_filter_bins, 2, device=device)
            )
        if self.branch is not None:  # after the others, so their layout stays as it was
            state.append(torch.zeros(1, batch, self.config.branch_hidden, device=device))
        if self.refiner is not None:  # last, for the same reason
            state.append(torch.zeros(self.config.refine_layers, batch, self.config.hidden, device=device))
        return state

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wave (batch, samples) -> enhanced (batch, samples), tap (batch, frames, hidden)."""
        spec = self.stft.analyze(self.stft.frames(wave))
        masked, tap, _ = self.process_spectrum(spec)
        return self.stft.overlap_add(self.stft.synthesize(masked), wave.shape[-1]), tap

    def process_spectrum(
        self, spec: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Mask (batch, frames, bins, 2) spectra; `state` carries the past between calls."""
        magnitude = spec.pow(2).sum(-1).clamp_min(1e-16).pow(self.config.compress / 2)
        x = self.input_norm(magnitude).transpose(1, 2)  # (B, F, N)
        new_state = []
        for index in range(0, len(self.encoder), 2):
            x, context = self.encoder[index](x, state[index // 2] if state else None)
            x = self.encoder[index + 1](x)
            new_state.append(context)
        encoded = x.transpose(1, 2)
        convs = len(new_state)
        gru_input, tap = encoded, encoded
        history_slot = convs + 1  # past spectra of the deep filter, when it keeps any
        branch_slot = history_slot + int(self.config.deep_filter_order > 1)
        refiner_slot = branch_slot + int(self.branch is not None)
        if self.branch is not None:
            tap, branch_state = self.branch(encoded, state[branch_slot] if state else None)
            gru_input = encoded + self.branch_feedback(tap)
        recurrent, hidden = self.gru(gru_input, state[convs] if state else None)
        if self.refiner is not None:
            refined, refiner_state = self.refiner(recurrent, state[refiner_slot] if state else None)
            recurrent = recurrent + self.refiner_out(refined)
        mask = torch.sigmoid(self.decoder(recurrent))
        enhanced, new_state = spec * mask.unsqueeze(-1), new_state + [hidden]
        if self.deep_filter is not None:
            history = state[history_slot] if state and self.config.deep_filter_order > 1 else None
            correction, history = self.filter_low_bins(spec, recurrent, history)
            enhanced = torch.cat(
                [enhanced[:, :, : correction.shape[2]] + correction, enhanced[:, :, correction.shape[2] :]], dim=2
            )
            new_state += [history] if self.config.deep_filter_order > 1 else []
        if self.branch is not None:
            new_state.append(branch_state)
        if self.refiner is not None:
            new_state.append(refiner_state)
        enhanced = post_filter(spec, enhanced, self.post_filter_beta)
        return enhanced, recurrent if self.config.tap == "gru" else tap, new_state

    def filter_low_bins(
        self, spec: torch.Tensor, recurrent: torch.Tensor, history: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The deep filter's output on the low bins (batch, frames, bins, 2) and the past spectra it keeps.

        Frame t gets sum_k c_{t,k} * X_{t-k} (complex products, k < order), c predicted from frame t's
        GRU output; spectra before the first frame come from `history` (zeros at the start)."""
        order, bins = self.config.deep_filter_order, self.config.deep_filter_bins
        batch, count = spec.shape[:2]
        low = spec[:, :, :bins]
        if history is None:
            history = low.new_zeros(batch, order - 1, bins, 2)
        frames = torch.cat([history, low], dim=1)
        coefs = self.deep_filter(recurrent).view(batch, count, order, bins, 2)
        total = torch.zeros_like(low)
        for back in range(order):
            past_re, past_im = frames[:, order - 1 - back : order - 1 - back + count].unbind(-1)
            c_re, c_im = coefs[:, :, back].unbind(-1)
            total = total + torch.stack([past_re * c_re - past_im * c_im, past_re * c_im + past_im * c_re], dim=-1)
        return total, frames[:, frames.shape[1] - (order - 1) :] if order > 1 else None
