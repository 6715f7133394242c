"""Models shipped inside the package: weights (NAME.pt) and model cards (NAME.md).

Kept free of heavy imports so the CLI can name the default model without loading torch.
"""

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "cmkt-base-16k"
