"""Ship a v2 run as the default `cmkt-base-16k`, keeping the model it replaces installable by name.

Usage: python recipes/open_corpus/install_v2.py RUNS/cmkt_s3 [--previous-name cmkt-base-16k-v1] [--recipe TEXT]

The run's best weights (model.pt, chosen on valid) go to cmkt/pretrained/cmkt-base-16k.pt with
the commands that made them (`--recipe`; the shipped s7's by default) and a licence note. The shipped file it
replaces is kept once, as cmkt/pretrained/PREVIOUS.pt (its name field updated), so `--model
cmkt-base-16k-v1` still works.
The run's weights carry no post-filter setting: `set_post_filter.py` records the one chosen for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from cmkt.pretrained import DEFAULT_MODEL, PRETRAINED_DIR  # noqa: E402
from cmkt.registry import read_checkpoint, save_torch  # noqa: E402

RECIPE = (  # the commands that trained the shipped default (run s7, 2026-12-07)
    "RUN=s1 (1,500 steps), s2 (3,000) and RUN=s3 (1,000 at 3e-4; CMKT twin kept at step 750) of "
    "bash recipes/open_corpus/train_v2.sh, then INIT=cmkt-base-16k SYSTEMS=baseline RUN=s5 bash "
    "recipes/open_corpus/train_v2.sh (the no-teacher twin from s3: 1,000 steps at 2e-4, loss "
    "spectral_mae=1,wave_mae=1,stoi=1,estoi=1,mrstft=1; kept: step 750), then INIT=cmkt-base-16k "
    "SYSTEMS=baseline RUN=s6 bash recipes/open_corpus/train_v2.sh (from s5 with refine_layers 2 grown on: "
    "1,000 steps at 2e-4, the same loss; kept: step 750), then INIT=cmkt-base-16k SYSTEMS=baseline RUN=s7 bash "
    "recipes/open_corpus/train_v2.sh (from s6: 750 steps at 2e-4, s6's loss plus residual_noise=1; kept: step 750)"
)
LICENCE = (
    "trained on the open corpus (recipes/open_corpus: SpeechOcean762 CC BY 4.0, GPL-2 game voices, CC0/CC BY/"
    "CC BY-SA/GPL/Pixabay noises used for training only); see the model card"
)


def install(run: Path, previous_name: str, recipe: str = RECIPE) -> tuple[Path, Path | None]:
    """(the new default's path, the kept previous model's path or None if it was kept before)."""
    current = PRETRAINED_DIR / f"{DEFAULT_MODEL}.pt"
    kept = PRETRAINED_DIR / f"{previous_name}.pt"
    saved = None
    if current.is_file() and not kept.is_file():
        old = read_checkpoint(current)
        old.update(name=previous_name)
        save_torch(kept, old)
        saved = kept
    payload = read_checkpoint(run / "model.pt")
    payload.update(name=DEFAULT_MODEL, recipe=recipe, licence_note=LICENCE)
    save_torch(current, payload)
    return current, saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run folder whose model.pt ships (RUNS/cmkt_s3)")
    parser.add_argument("--previous-name", default=f"{DEFAULT_MODEL}-v1")
    parser.add_argument("--recipe", default=RECIPE, help="the commands that trained the run (default: shipped s7's)")
    args = parser.parse_args()
    current, kept = install(args.run, args.previous_name, args.recipe)
    print(f"installed {current}" + (f"; the model it replaces is kept as {kept}" if kept else ""))


if __name__ == "__main__":
    main()
