"""Record in a checkpoint the post-filter strength it runs with by default (`cmkt enhance` without
`--post-filter`): the setting chosen for it on open-valid stays with the weights it was chosen for.

Usage: python recipes/open_corpus/set_post_filter.py cmkt/pretrained/cmkt-base-16k.pt 0.1
(docs/default_model/2026-12-01_post_filter_decision.md gives how 0.1 was chosen; 0 removes it.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from cmkt.models.post_filter import check_post_filter  # noqa: E402
from cmkt.registry import read_checkpoint, save_torch  # noqa: E402


def set_post_filter(path: Path, beta: float) -> None:
    """Rewrite `path` (atomically) with `post_filter` = beta; 0 drops the field."""
    payload = read_checkpoint(path)
    payload.pop("post_filter", None)
    if check_post_filter(beta):
        payload["post_filter"] = float(beta)
    save_torch(path, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("beta", type=float, help="post-filter strength, 0..1 (0: none)")
    args = parser.parse_args()
    set_post_filter(args.checkpoint, args.beta)
    print(f"{args.checkpoint}: runs with post-filter {args.beta:g} unless `--post-filter` says otherwise")


if __name__ == "__main__":
    main()
