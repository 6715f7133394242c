"""Training: its settings (config.py, torch-free so the CLI can read its defaults) and the loop (cmkt/train.py)."""
