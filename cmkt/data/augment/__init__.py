"""Train-time augmentations for dynamic mixing: small objects the Mixer runs at their stage.

Each lives in its own module; `registry.py` names them for `--augment` and parses the list."""
