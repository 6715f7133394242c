"""`cmkt train`'s settings: one dataclass, the single place each default lives.

The CLI reads its option defaults from these fields, `cmkt train --config run.json` reads a run's
settings from a file (a run folder's config.json is one), and the rules between flags are checked
here, when a config is made, before any data is read. Torch-free: `cmkt --help` stays fast."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from cmkt.distill import DEFAULT_BRIDGE_STRIDE
from cmkt.errors import CmktError

DEFAULT_ARCHITECTURE = "stft-mask-gru"
DEFAULT_LOSS = "spectral_mae=1,wave_mae=1"
DEFAULT_SELECT = "pesq_wb"
LR_DECAYS = ("none", "cosine")
RUNTIME_SETTINGS = {
    "steps",
    "threads",
    "device",
    "workers",
}  # may change on --resume: they do not change what is learnt
# (lowest, highest, whether the lowest itself is allowed) for every numeric setting; None: unbounded
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "steps": (1, None, True),
    "batch_size": (1, None, True),
    "lr": (0, None, True),
    "alpha": (0, 1, True),
    "shift_ms": (0, None, True),
    "shift_prob": (0, 1, True),
    "max_seconds": (0, None, False),
    "valid_every": (1, None, True),
    "valid_items": (1, None, True),
    "grad_clip": (0, None, False),
    "seed": (0, None, True),
    "threads": (0, None, True),
    "ot_eps": (0, None, False),
    "ot_tau": (0, None, False),
    "ot_delta": (0, None, False),
    "bridge_stride": (1, None, True),
    "patience": (0, None, True),
    "ssl_weight": (0, 1, True),
    "workers": (0, None, True),
}
LEGACY_AUGMENT_FLAGS = {"speech_eq": "speech_eq", "noise_augment": "noise", "noise_envelope": "noise_envelope"}


@dataclass
class TrainConfig:
    train_manifest: str
    valid_manifest: str
    out: str
    _: KW_ONLY  # every other setting by name: adding a field can never shift another's value
    teacher: str = "auto"  # "auto": the cache that prep built beside the manifest; "none": baseline; or a cache folder
    arch: str = DEFAULT_ARCHITECTURE
    model: dict = field(default_factory=dict)
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    alpha: float = 0.9
    shift_ms: float = 100.0
    shift_prob: float = 0.5
    max_seconds: float = 4.0
    valid_every: int = 250
    valid_items: int = 16
    grad_clip: float = 5.0
    seed: int = 0
    threads: int = 0
    lr_decay: str = (
        "none"  # none | cosine (to a tenth of lr at the last step; a function of the step, so resume is exact)
    )
    dynamic_mixing: bool = False  # fresh noise, offset and SNR every epoch, with prep's settings
    # with dynamic mixing: train-split augmentations, e.g. "noise,reverb=0.3,band_limit,level" (cmkt/data/augment/)
    augment: str = ""
    rirs: str | None = None  # folder of room impulse responses for the reverb augmentations
    align: str = "attention"  # attention | uot | tot | uniform (METHOD.md section 2)
    ot_eps: float = 0.1
    ot_tau: float = 1.0
    ot_delta: float = 1.0
    bridge_stride: int = (
        DEFAULT_BRIDGE_STRIDE  # frames averaged per bridge frame (halves the bridge's cost; tokens span 10+ frames)
    )
    loss: str = DEFAULT_LOSS  # weighted enhancement-loss terms, e.g. "spectral_mae=1,si_sdr=0.01"
    patience: int = 0  # stop after this many validations without a better criterion (0: never)
    select: str = DEFAULT_SELECT  # what "best" means: validation metrics with weights, e.g. "pesq_wb=1,stoi=4"
    ssl_teacher: str | None = None  # JSON file describing a wav2vec2/HuBERT/WavLM teacher (cmkt/teachers/ssl.py)
    ssl_weight: float = 0.5  # share of the SSL teacher in the distillation loss when the LM teacher is there too
    amp: bool = False  # mixed precision: bfloat16 autocast
    compile: bool = False  # torch.compile the backbone
    device: str = "cpu"  # where the model trains: cpu, cuda, cuda:1, ...
    workers: int = 0  # data-loading processes (0: load in the training process)
    init: str | None = (
        None  # fine-tune: start from this trained model (file or installed name) instead of random weights
    )

    def __post_init__(self) -> None:
        """The rules between settings, checked before any data is read."""
        from cmkt.data.augment.registry import normalise_spec  # imported here: the CLI imports this module

        for name, (low, high, low_allowed) in RANGES.items():
            check_range(name, getattr(self, name), low, high, low_allowed)
        if self.lr_decay not in LR_DECAYS:
            raise CmktError(f"unknown --lr-decay {self.lr_decay!r}; use none or cosine")
        self.augment = normalise_spec(self.augment)
        if self.augment and not self.dynamic_mixing:
            raise CmktError(f"--augment {self.augment} changes what is mixed on the fly: add --dynamic-mixing")

    @classmethod
    def from_settings(cls, settings: dict[str, Any], source: str = "settings") -> TrainConfig:
        """A config from a dict of field values (a config file's, merged with flags), with one-line errors
        for unknown names and missing required ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(settings) - set(names))
        if unknown:
            raise CmktError(
                f"{source}: unknown setting(s) {', '.join(unknown)}; the settings are those of "
                "`cmkt train --help` with _ for - (e.g. batch_size)"
            )
        missing = [name for name in ("train_manifest", "valid_manifest", "out") if not settings.get(name)]
        if missing:
            flags = {"train_manifest": "--train", "valid_manifest": "--valid", "out": "-o"}
            raise CmktError(
                f"{source}: no {', '.join(flags[m] for m in missing)} given; pass it, or set "
                f"{', '.join(missing)} in the --config file"
            )
        return cls(**settings)


def check_range(name: str, value: Any, low: float | None, high: float | None, low_allowed: bool = True) -> None:
    """One line naming the flag, its value and its range when a number lies outside it (NaN never lies inside)."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CmktError(f"{flag} {value!r}: must be a number")
    inside = (
        value == value
        and (low is None or value > low or (low_allowed and value == low))
        and (high is None or value <= high)
    )
    if not inside:
        if high is None:
            rule = f"{'at least' if low_allowed else 'above'} {low:g}"
        else:
            rule = f"in [{low:g}, {high:g}]" if low_allowed else f"in ({low:g}, {high:g}]"
        raise CmktError(f"{flag} {value:g}: must be {rule}")


def default_of(name: str) -> Any:
    """The default of one TrainConfig field: what the CLI shows and uses when a flag is not given."""
    spec = TrainConfig.__dataclass_fields__[name]
    return spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a JSON file of TrainConfig fields (e.g. a run folder's config.json)."""
    path = Path(path)
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CmktError(
            f"{path}: no such config file; give the path of a JSON file of settings (a run's config.json is one)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CmktError(f'{path}: not a JSON config ({exc}); write it as {{"steps": 4000, "lr": 3e-4}}') from None
    if not isinstance(settings, dict):
        raise CmktError(f'{path}: a config file holds one JSON object of settings, like {{"steps": 4000}}')
    return legacy_settings(settings)


def legacy_settings(saved: dict) -> dict:
    """Saved settings in today's terms: the augmentation booleans of runs started before `--augment`
    existed become the list they meant, so such runs still `--resume` exactly."""
    from cmkt.data.augment.registry import normalise_spec

    saved = dict(saved)
    named = [name for flag, name in LEGACY_AUGMENT_FLAGS.items() if saved.pop(flag, False)]
    if named:
        saved["augment"] = normalise_spec(",".join(named + ([saved["augment"]] if saved.get("augment") else [])))
    return saved
