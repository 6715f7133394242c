"""Training: its settings (config.py, torch-free so the CLI can read its defaults), the loop
(trainer.py: Trainer), one step's loss (step_losses.py), the kept checkpoint (selection.py),
`--init` (starting_weights.py) and the learning-rate schedule (schedule.py)."""
