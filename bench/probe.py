"""Did the teacher's knowledge arrive (issue 30)? A linear probe from frozen SE taps to the teacher.

Usage: python bench/probe.py --data ~/.cache/cmkt/runs/v2/data --model cmkt=RUN/model.pt
           --model baseline=RUN/model.pt [--fit 1500] [--clean] [--out runs/probe]

English read speech only (the SpeechOcean762 sentences of the prepared open corpus: the teacher
is English). A ridge map from each model's tap, mean-pooled over frames, to the transcript's
teacher embedding, mean-pooled over tokens, is fitted on --fit train utterances, its penalty
chosen on the valid split, and scored once on the test split (held-out speakers and noises):
cosine of prediction and target, and retrieval (is the nearest test transcript the one spoken).
Per token too: the tap over the speech's span cut into the transcript's token count (a uniform
alignment), a ridge map to each token's embedding, scored by cosine and by identification
within each utterance (is predicted token i nearest to true token i).
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
from cmkt.evaluation.probe import (  # noqa: E402
    pooled_targets,
    probe,
    token_probe,
    token_targets,
    utterance_taps,
)
from cmkt.evaluation.stats import paired_difference  # noqa: E402
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


def cached_taps(path: Path, model, splits: dict, tokens: dict, clean: bool) -> dict:
    """split -> (pooled taps, per-token taps), kept in `path` (the slow part: a rerun reads them)."""
    if path.is_file():
        with np.load(path) as stored:
            if all(
                f"{split}_pooled" in stored and len(stored[f"{split}_pooled"]) == len(rows)
                for split, rows in splits.items()
            ):
                return {
                    split: (stored[f"{split}_pooled"], _split_rows(stored[f"{split}_tokens"], tokens[split]))
                    for split in splits
                }
    taps = {split: utterance_taps(model, rows, tokens[split], noisy=not clean) for split, rows in splits.items()}
    arrays = {f"{split}_pooled": pooled for split, (pooled, _) in taps.items()}
    arrays |= {f"{split}_tokens": np.concatenate(per_token) for split, (_, per_token) in taps.items()}
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    return taps


def _split_rows(stacked: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    return np.split(stacked, np.cumsum(counts)[:-1])


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
    per_token = {name: token_targets(cache, rows) for name, rows in splits.items()}
    tokens = {name: [len(t) for t in rows] for name, rows in per_token.items()}
    texts = {name: [u.text for u in rows] for name, rows in splits.items()}
    models = dict(item.split("=", 1) for item in args.model)
    first, meta = load_model(next(iter(models.values())))
    torch.manual_seed(0)
    loaded = {"untrained": build_model(meta["arch"], meta["config"])}
    loaded |= {name: load_model(path)[0] for name, path in models.items()}
    results = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, model in loaded.items():
        path = args.out / f"taps_{name}{'_clean' if args.clean else ''}.npz"
        taps = cached_taps(path, model, splits, tokens, args.clean)
        scores = probe(
            (taps["train"][0], targets["train"]),
            (taps["valid"][0], targets["valid"], texts["valid"]),
            (taps["test"][0], targets["test"], texts["test"]),
        )
        by_token = token_probe(*((taps[split][1], per_token[split]) for split in ("train", "valid", "test")))
        results[name] = {"utterance": scores.__dict__, "token": by_token.__dict__}
        print(
            f"{name}: test cosine {scores.cosine:.3f} (the mean's {scores.mean_cosine:.3f}), retrieval "
            f"{scores.retrieval:.3f} (chance {scores.chance:.4f}; penalty {scores.penalty:g})",
            flush=True,
        )
        print(
            f"{name}: per token, test cosine {by_token.cosine:.3f} (the mean's {by_token.mean_cosine:.3f}), "
            f"identification within utterances {by_token.identification:.3f} (chance {by_token.chance:.3f}; "
            f"penalty {by_token.penalty:g})",
            flush=True,
        )
    names = list(results)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            keyed = [dict(enumerate(results[n]["token"]["per_utterance"])) for n in (first, second)]
            paired = paired_difference(*keyed)
            print(
                f"token identification, {first} minus {second}: {paired.difference.mean:+.3f} "
                f"± {paired.difference.half_width:.3f} over utterances (Wilcoxon p {paired.p_value:.1e})"
            )
    write_text_atomic(args.out / "probe.json", json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
