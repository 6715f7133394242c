"""The user cache folder cmkt keeps installed models and teachers under: one place for its rule."""

from __future__ import annotations

import os
from pathlib import Path


def cmkt_cache(kind: str) -> Path:
    """$XDG_CACHE_HOME/cmkt/<kind> (default ~/.cache/cmkt/<kind>), e.g. "models" or "teachers"."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cmkt" / kind
