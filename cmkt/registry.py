"""Named architectures and self-describing checkpoints: one registry for train, enhance, models.

A checkpoint holds everything needed to rebuild its model (architecture, config, sample rate)
and what a person asks about it (training data hash, steps, metrics, package version).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cmkt import __version__
from cmkt.errors import CmktError
from cmkt.util.cache_dirs import cmkt_cache
from cmkt.util.atomic_files import atomic_path
from cmkt.models.conformer_mask import ConformerMaskConfig, ConformerMaskNet
from cmkt.models.conv_tasnet import ConvTasNetConfig, ConvTasNetSE
from cmkt.models.stft_mask import StftMaskConfig, StftMaskNet
from cmkt.pretrained import PRETRAINED_DIR

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Architecture:
    name: str
    model: type
    config: type
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture(
            "stft-mask-gru",
            StftMaskNet,
            StftMaskConfig,
            "causal STFT mask model: conv encoder + GRU + decoder (~1M params); streams",
        ),
        Architecture(
            "conv-tasnet",
            ConvTasNetSE,
            ConvTasNetConfig,
            "time-domain Conv-TasNet (torchaudio), one source; non-causal",
        ),
        Architecture(
            "conformer-mask",
            ConformerMaskNet,
            ConformerMaskConfig,
            "STFT mask model with a Conformer encoder (torchaudio); non-causal",
        ),
    ]
}


CONFIG_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool}  # model config fields' annotations


def build_model(arch: str, config: dict[str, Any] | None = None) -> torch.nn.Module:
    if arch not in ARCHITECTURES:
        raise CmktError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    spec = ARCHITECTURES[arch]
    known = {f.name for f in dataclasses.fields(spec.config)}
    unknown = set(config or {}) - known
    if unknown:
        raise CmktError(
            f"{arch}: unknown config field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    for field in dataclasses.fields(spec.config):
        value, expected = (config or {}).get(field.name), CONFIG_TYPES.get(str(field.type))
        if (
            field.name in (config or {})
            and expected
            and (not isinstance(value, expected) or isinstance(value, bool) != (field.type == "bool"))
        ):
            raise CmktError(
                f"{arch}: --model-config {field.name} is {value!r}, not {field.type} (default {field.default!r}); "
                f"write it like '{{\"{field.name}\": {json.dumps(field.default)}}}'"
            )
    try:
        return spec.model(spec.config(**(config or {})))
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CmktError(
            f"{arch}: --model-config {json.dumps(config or {})} does not make a model ({exc}); "
            "change that setting or leave it at its default"
        ) from None


def save_checkpoint(path: str | Path, model: torch.nn.Module, arch: str, **info: Any) -> None:
    """Save an inference checkpoint (model weights and metadata only), atomically."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "cmkt_version": __version__,
        "arch": arch,
        "config": dataclasses.asdict(model.config),
        "sample_rate": model.config.sample_rate,
        "state_dict": model.state_dict(),
        **info,
    }
    save_torch(path, payload)


def save_torch(path: str | Path, payload: Any) -> None:
    """torch.save, atomically; a failed write (full disk, quota) is a clear error and the old file stays."""
    with atomic_path(path) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:  # torch reports a short write as RuntimeError, not OSError
            raise CmktError(
                f"{path}: cannot write ({str(exc).strip()[:80]}); check free space and permissions"
            ) from exc


UNSAFE = "not a safe CMKT checkpoint"


def _safe_globals() -> list:
    """The only non-container types a checkpoint may hold: numpy scalars and arrays (older runs
    stored metrics as numpy floats). Rebuilding them runs no code of the file's choosing."""
    import numpy as np

    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    dtypes = [type(np.dtype(t)) for t in ("float16", "float32", "float64", "int32", "int64", "bool")]
    names = [
        (f, f"{module}.{f.__name__}")
        for f in (core.scalar, core._reconstruct)  # numpy 1 and 2 name them apart
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    ]
    return [*names, np.ndarray, np.dtype, *dtypes]


def load_payload(path: str | Path) -> Any:
    """torch.load with weights_only=True: a file that asks to run code is refused, never executed."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise CmktError(f"{path}: checkpoint not found; check the path or run `cmkt models`")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        reason = found.group(1) if found else "a Python object"
        raise CmktError(
            f"{path}: {UNSAFE} (it asks for {reason}, which could run code; nothing was run); "
            f"use a file written by `cmkt train`, or if you trust it, `cmkt upgrade-checkpoint {path} NEW.pt --trust`"
        ) from None
    except Exception as exc:  # torch raises several kinds for truncated or foreign files
        raise CmktError(
            f"{path}: not a readable CMKT checkpoint ({type(exc).__name__}); it may be truncated: retrain or re-copy it"
        ) from exc


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint's contents safely, with clear errors for truncated, foreign or unsafe files."""
    path = Path(path)
    payload = load_payload(path)
    if not isinstance(payload, dict) or "arch" not in payload or "state_dict" not in payload:
        raise CmktError(
            f"{path}: not a CMKT checkpoint (no architecture recorded); pass a file written by `cmkt train`"
        )
    if payload.get("format", 0) > CHECKPOINT_FORMAT:
        raise CmktError(f"{path}: written by a newer cmkt ({payload.get('cmkt_version')}); upgrade cmkt")
    return payload


def upgrade_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Re-save a checkpoint that only loads with code execution (an older or foreign writer) as
    plain data: only for a file the user trusts, by an explicit request; the result loads safely."""
    import numpy as np

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {plain(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, tuple):
            return tuple(plain(v) for v in value)
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        if isinstance(value, np.generic):
            return value.item()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return plain(dataclasses.asdict(value))
        return value

    payload = torch.load(Path(source), map_location="cpu", weights_only=False)  # the user vouched for this file
    save_torch(target, plain(payload))
    read_checkpoint(target)
    return Path(target)


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model stored in a checkpoint; returns (model in eval mode, metadata)."""
    payload = read_checkpoint(path)
    model = build_model(payload["arch"], payload["config"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CmktError(
            f"{path}: weights do not fit architecture {payload['arch']}; the file is damaged or mislabelled"
        ) from exc
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta


def model_dirs() -> list[Path]:
    """Where named checkpoints are looked up: $CMKT_MODELS, the user cache, then the shipped models.

    A user's file of the same name comes first, so a shipped model can be replaced without
    touching the package.
    """
    dirs = []
    if os.environ.get("CMKT_MODELS"):
        dirs.append(Path(os.environ["CMKT_MODELS"]))
    dirs.append(cmkt_cache("models"))
    dirs.append(PRETRAINED_DIR)
    return dirs


def installed_models() -> dict[str, Path]:
    """Named checkpoints found in the model folders (name = file stem)."""
    found: dict[str, Path] = {}
    for folder in model_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.pt")):
                found.setdefault(path.stem, path)
    return found


def resolve_model(name_or_path: str) -> Path:
    """A checkpoint path from a file path or an installed model name."""
    if Path(name_or_path).is_file():
        return Path(name_or_path)
    installed = installed_models()
    if name_or_path in installed:
        return installed[name_or_path]
    names = ", ".join(installed) or "none installed"
    raise CmktError(
        f"{name_or_path}: no such checkpoint file or installed model ({names}); pass a .pt path from `cmkt train`"
    )
