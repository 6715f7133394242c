"""Parse 'name=weight,...' settings: the loss terms of `--loss` and the checkpoint criterion of `--select`."""

from __future__ import annotations

from collections.abc import Iterable

from cmkt.errors import CmktError


def parse_weighted_terms(spec: str, choices: Iterable[str], flag: str, example: str) -> dict[str, float]:
    """'spectral_mae=1,si_sdr=0.01' -> {name: weight}; a name alone weighs 1; unknown names name the choices."""
    choices = list(choices)
    weights = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, weight = part.partition("=")
        if name not in choices:
            raise CmktError(f"{flag}: unknown term {name!r}; choose from {', '.join(choices)} (e.g. {example})")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise CmktError(f"{flag}: weight of {name} is not a number ({weight!r}); write it like {example}") from None
    if not weights:
        raise CmktError(f"{flag} is empty; give terms like {example}")
    return weights
