"""Did the teacher's knowledge arrive (issue 30)? A linear probe from frozen SE taps to the teacher.

Usage: python bench/probe.py --data ~/.cache/cmkt/runs/v2/data --model cmkt=RUN/model.pt
           --model baseline=RUN/model.pt [--fit 1500] [--clean] [--out runs/probe]

English read speech only (the SpeechOcean762 sentences of the prepared open corpus: the teacher
is English). A ridge map from each model's tap, mean-pooled over frames, to the transcript's
teacher embedding, mean-pooled over tokens, is fitted on --fit train utterances, its penalty
chosen on the valid split, and scored once on the test split (held-out speakers and noises):
cosine of prediction and target, and retrieval (is the nearest test transcript the one spoken).
An untrained model of the first model's architecture is the floor. Taps come from the noisy
input (what the model hears) unless --clean.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cmkt.data.manifest import read_manifest  # noqa: E402
from cmkt.evaluation.probe import pooled_targets, pooled_taps, probe  # noqa: E402
from cmkt.registry import build_model, load_model  # noqa: E402
from cmkt.teachers.cache import EmbeddingCache  # noqa: E402
from cmkt.util.atomic_files import atomic_path, write_text_atomic  # noqa: E402

ENGLISH_SENTENCES = "speechocean762__"


def english(data: Path, split: str, limit: int | None = None) -> list:
    rows = [u for u in read_manifest(data / f"{split}.jsonl") if u.id.startswith(ENGLISH_SENTENCES) and u.text]
    rows.sort(key=lambda u: u.id)
    if limit and len(rows) > limit:
        step = len(rows) / limit
        rows = [rows[int(i * step)] for i in range(limit)]
    return rows


def cached_taps(path: Path, model, splits: dict, clean: bool) -> dict:
    """Pooled taps per split, kept in `path` (the slow part: a rerun of the probe reads them)."""
    if path.is_file():
        with np.load(path) as stored:
            if all(len(stored[split]) == len(rows) for split, rows in splits.items()):
                return {split: stored[split] for split in splits}
    taps = {split: pooled_taps(model, rows, noisy=not clean) for split, rows in splits.items()}
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **taps)
    return taps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a `cmkt prep` folder with its teacher cache")
    parser.add_argument("--model", action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--fit", type=int, default=1500, help="train utterances the map is fitted on")
    parser.add_argument("--clean", action="store_true", help="taps from the clean speech instead of the noisy")
    parser.add_argument("--out", type=Path, default=Path("runs/probe"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    [cache_dir] = list((args.data / "teacher_cache").iterdir())
    cache = EmbeddingCache(cache_dir)
    splits = {"train": english(args.data, "train", args.fit), "valid": english(args.data, "valid")}
    splits["test"] = english(args.data, "test")
    print({name: len(rows) for name, rows in splits.items()}, "English utterances")
    targets = {name: pooled_targets(cache, rows) for name, rows in splits.items()}
    texts = {name: [u.text for u in rows] for name, rows in splits.items()}
    models = dict(item.split("=", 1) for item in args.model)
    first, meta = load_model(next(iter(models.values())))
    torch.manual_seed(0)
    loaded = {"untrained": build_model(meta["arch"], meta["config"])}
    loaded |= {name: load_model(path)[0] for name, path in models.items()}
    results = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, model in loaded.items():
        taps = cached_taps(args.out / f"taps_{name}{'_clean' if args.clean else ''}.npz", model, splits, args.clean)
        scores = probe(
            (taps["train"], targets["train"]),
            (taps["valid"], targets["valid"], texts["valid"]),
            (taps["test"], targets["test"], texts["test"]),
        )
        results[name] = scores.__dict__
        print(
            f"{name}: test cosine {scores.cosine:.3f} (the mean's {scores.mean_cosine:.3f}), retrieval "
            f"{scores.retrieval:.3f} (chance {scores.chance:.4f}; penalty {scores.penalty:g})",
            flush=True,
        )
    write_text_atomic(args.out / "probe.json", json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
