"""Speech-foundation-model teachers (METHOD.md section 3): layer features of a torchaudio
wav2vec2 / HuBERT / WavLM model run on the CLEAN speech, regressed by the student.

A teacher is described by a JSON file the user supplies (weights cannot be downloaded here):
  {"kind": "wavlm" | "wav2vec2" | "hubert",
   "config": {keyword arguments of torchaudio.models.wavlm_model / wav2vec2_model},
   "weights": "path/to/state_dict.pt",            (relative to the JSON file)
   "layers": [4, 8], "layer_weights": [0.5, 0.5]}
The student side (`SSLHead`) projects the tap to each layer's width, resamples it in time to the
teacher's frames (both are frame-synchronous, so alignment is a resampling), and the loss is
1 - cos per frame, averaged over layers with the given weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cmkt.errors import CmktError

KINDS = ("wav2vec2", "hubert", "wavlm")
DEFAULT_CONV_LAYERS = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2  # torchaudio's when the config gives none


@dataclass
class SSLSpec:
    kind: str
    config: dict
    weights: str
    layers: list[int]
    layer_weights: list[float]

    @classmethod
    def read(cls, path: str | Path) -> "SSLSpec":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            spec = cls(
                data["kind"],
                data["config"],
                str(path.parent / data["weights"]),
                [int(x) for x in data["layers"]],
                [float(x) for x in data.get("layer_weights") or [1.0 / len(data["layers"])] * len(data["layers"])],
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CmktError(
                f"{path}: not a readable SSL teacher file ({type(exc).__name__}: {exc}); "
                "it needs kind, config, weights and layers (see cmkt/teachers/ssl.py)"
            ) from exc
        if spec.kind not in KINDS:
            raise CmktError(f"{path}: kind {spec.kind!r} is not one of {', '.join(KINDS)}")
        if len(spec.layer_weights) != len(spec.layers):
            raise CmktError(
                f"{path}: {len(spec.layers)} layers but {len(spec.layer_weights)} layer_weights; give one weight per "
                f"layer"
            )
        return spec


class SSLTeacher(nn.Module):
    """A frozen torchaudio SSL model giving the chosen layers' features of clean speech."""

    def __init__(self, spec: SSLSpec):
        super().__init__()
        import torchaudio.models as models

        factory = models.wavlm_model if spec.kind == "wavlm" else models.wav2vec2_model
        try:
            self.model = factory(**spec.config)
        except TypeError as exc:
            raise CmktError(f"SSL teacher config does not fit torchaudio.models.{factory.__name__}: {exc}") from exc
        try:
            state = torch.load(spec.weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a truncated or foreign file
            raise CmktError(
                f"{spec.weights}: cannot load the SSL teacher's weights ({type(exc).__name__}); "
                "save the model's state_dict with torch.save"
            ) from exc
        fit_weights(self.model, state, spec.weights)
        layers = len(self.model.encoder.transformer.layers)
        outside = [layer for layer in spec.layers if not 1 <= layer <= layers]
        if outside:
            raise CmktError(
                f"SSL teacher layers {outside}: this {spec.kind} has layers 1 to {layers}; "
                f"choose layers within them in the teacher's JSON"
            )
        self.spec = spec
        self.model.eval().requires_grad_(False)
        self.dims = [int(spec.config["encoder_embed_dim"])] * len(spec.layers)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output frames of each item: the feature extractor's conv arithmetic."""
        layers = self.spec.config.get("extractor_conv_layer_config") or DEFAULT_CONV_LAYERS
        frames = lengths.clone()
        for _, kernel, stride in layers:
            frames = torch.div(frames - kernel, stride, rounding_mode="floor") + 1
        return frames.clamp_min(0)

    @torch.no_grad()
    def forward(self, clean: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Features of each chosen layer (B, T', D) and the valid-frame mask (B, T').

        The model sees the padded batch whole (WavLM's attention takes no padding mask); frames
        past an item's end are masked out of the loss instead.
        """
        features, _ = self.model.extract_features(clean, None, num_layers=max(self.spec.layers))
        frames = features[0].shape[1]
        mask = torch.arange(frames)[None, :] < self.frame_lengths(lengths)[:, None]
        return [features[layer - 1] for layer in self.spec.layers], mask


def fit_weights(model: nn.Module, state: dict, source: str) -> None:
    """Load `state` into `model`, or say in one whole sentence how they differ (no cut-off torch message)."""
    if not isinstance(state, dict):
        raise CmktError(
            f"{source}: holds a {type(state).__name__}, not a state_dict; save model.state_dict() with torch.save"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = [
            f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
            f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
            f"{len(mismatched)} of another shape (e.g. {mismatched[0]}: {tuple(state[mismatched[0]].shape)} "
            f"where the config makes {tuple(own[mismatched[0]].shape)})"
            if mismatched
            else "",
        ]
        raise CmktError(
            f"{source}: the weights do not fit the teacher's config: {'; '.join(p for p in parts if p)}; "
            "give the config of the model that saved them"
        )
    model.load_state_dict(state)


class SSLHead(nn.Module):
    """Student side: tap -> each teacher layer's width, resampled to the teacher's frame count."""

    def __init__(self, tap_dim: int, dims: list[int], layer_weights: list[float]):
        super().__init__()
        self.projections = nn.ModuleList(nn.Linear(tap_dim, dim) for dim in dims)
        self.register_buffer("layer_weights", torch.tensor(layer_weights), persistent=False)
        self.last_loss = 0.0

    def loss(self, tap: torch.Tensor, targets: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        total = tap.new_zeros(())
        weight = mask.float()
        for projection, target, layer_weight in zip(self.projections, targets, self.layer_weights):
            predicted = projection(tap).transpose(1, 2)  # (B, D, N)
            predicted = nn.functional.interpolate(
                predicted, size=target.shape[1], mode="linear", align_corners=False
            ).transpose(1, 2)
            cos = nn.functional.cosine_similarity(predicted, target, dim=-1, eps=1e-8)
            total = total + layer_weight * ((1 - cos) * weight).sum() / weight.sum().clamp_min(1.0)
        return total
