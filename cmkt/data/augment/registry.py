"""The augmentations `--augment` can name, and the parser that turns the list into objects."""

from __future__ import annotations

from pathlib import Path

from cmkt.data.augment.band_limit import BandLimit
from cmkt.data.augment.base import Augmentation
from cmkt.data.augment.level import Level
from cmkt.data.augment.noise import NoiseEnvelope, NoiseVariety
from cmkt.data.augment.pause import Pause
from cmkt.data.augment.reverb import DryReverb, Reverb
from cmkt.data.augment.speech_colour import SpeechColour
from cmkt.errors import CmktError

# The order they run in, whatever order the list names them in (within the Mixer's stages), so a
# list means one thing and adding a step never changes the draws of the steps before it.
AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.name: cls for cls in (SpeechColour, Pause, Reverb, DryReverb, NoiseVariety, NoiseEnvelope, Level, BandLimit)
}
EXAMPLE = "noise,reverb=0.3,band_limit,level"


def read_spec(spec: str) -> dict[str, float | None]:
    """'noise,reverb=0.3' -> {name: probability or None (its default)}, in run order; names checked."""
    chosen: dict[str, float | None] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, value = part.partition("=")
        if name not in AUGMENTATIONS:
            raise CmktError(
                f"--augment: unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)} (e.g. {EXAMPLE})"
            )
        if name in chosen:
            raise CmktError(f"--augment: {name} is named twice; name each augmentation once")
        try:
            chosen[name] = float(value) if value else None
        except ValueError:
            raise CmktError(
                f"--augment: the probability of {name} is not a number ({value!r}); write it like {EXAMPLE}"
            ) from None
    if "reverb" in chosen and "reverb_dry" in chosen:
        raise CmktError("--augment: reverb and reverb_dry both add a room; choose one")
    for name, p in chosen.items():
        if p is not None and not 0.0 < p <= 1.0:
            raise CmktError(f"--augment: the probability of {name} is {p:g}; it must lie in (0, 1], e.g. {name}=0.3")
    return {name: chosen[name] for name in AUGMENTATIONS if name in chosen}


def parse_augmentations(spec: str, rirs: str | Path | None = None) -> list[Augmentation]:
    """The steps an `--augment` list names, in run order; `=p` sets a step's probability, a name
    alone takes its default. `rirs` is the room folder the reverb steps draw from."""
    steps = []
    for name, p in read_spec(spec).items():
        cls = AUGMENTATIONS[name]
        steps.append(cls(p, rirs=rirs) if issubclass(cls, Reverb) else cls(p))
    return steps


def normalise_spec(spec: str) -> str:
    """The canonical spelling of an `--augment` list (run order, defaults unwritten): two spellings
    of the same list compare equal, so `--resume` accepts either."""
    return ",".join(
        name if p in (None, AUGMENTATIONS[name].default_p) else f"{name}={p:g}" for name, p in read_spec(spec).items()
    )
