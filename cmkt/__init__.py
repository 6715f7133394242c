"""CMKT: speech enhancement trained with cross-modal linguistic knowledge transfer.

The public Python API mirrors the CLI. Imports are lazy so that `import cmkt` stays cheap and
inference never pulls in the language-model stack.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "enhance_array": "cmkt.inference.enhancer",
    "enhance_paths": "cmkt.inference.files",
    "load_enhancer": "cmkt.inference.enhancer",
    "score_pairs": "cmkt.evaluation.score",
    "prepare": "cmkt.data.prep",
    "train": "cmkt.training.trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cmkt' has no attribute {name!r}")
