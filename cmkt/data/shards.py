"""Joining `cmkt prep --shard K/N` runs: their manifests into one per split, their caches into one.

Shards may share an output folder (one machine, or a shared filesystem) or each have their own
(several machines, folders copied together afterwards); either way every shard 1..N must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from cmkt.errors import CmktError
from cmkt.util.atomic_files import atomic_path, file_lock, write_text_atomic
from cmkt.data.manifest import read_manifest, write_manifest

SHARD_MANIFEST = re.compile(r"^(train|valid|test)\.shard-(\d+)-of-(\d+)\.jsonl$")


def merge_shards(sources: list[Path], out: Path) -> dict[str, Path]:
    """Write out/{split}.jsonl from every shard manifest found in `sources`; merge their caches."""
    manifests = {}
    for split, paths in shard_manifests(sources).items():
        utterances = [u for path in paths for u in read_manifest(path)]
        ids = [u.id for u in utterances]
        if len(ids) != len(set(ids)):
            raise CmktError(
                f"{split}: the same utterance id appears in two shards; the shards overlap, rerun them with one "
                f"--shard N"
            )
        for utt in utterances:
            utt.clean = os.path.relpath(utt.clean, out)
            utt.noisy = os.path.relpath(utt.noisy, out) if utt.noisy else None
        manifests[split] = out / f"{split}.jsonl"
        write_manifest(manifests[split], sorted(utterances, key=lambda u: u.id))
    for source in sources:
        for cache in sorted((Path(source) / "teacher_cache").glob("*/index.json")):
            if cache.parent.parent.resolve() != (out / "teacher_cache").resolve():
                merge_cache(cache.parent, out / "teacher_cache" / cache.parent.name)
    return manifests


def shard_manifests(sources: list[Path]) -> dict[str, list[Path]]:
    """Each split's shard manifests in `sources`, once every shard 1..N of one set is there."""
    found: dict[str, list[Path]] = {}
    shards, totals = set(), set()
    for source in sources:
        for path in sorted(Path(source).glob("*.shard-*-of-*.jsonl")):
            match = SHARD_MANIFEST.match(path.name)
            if match:
                found.setdefault(match[1], []).append(path)
                shards.add(int(match[2]))
                totals.add(int(match[3]))
    if not found:
        raise CmktError(
            f"no shard manifests (SPLIT.shard-K-of-N.jsonl) in {', '.join(map(str, sources))}; run `cmkt prep "
            f"--shard K/N` first"
        )
    if len(totals) != 1:
        raise CmktError(
            f"shards of different totals ({sorted(totals)}) were found; merge one --shard K/N set at a time"
        )
    total = totals.pop()
    missing = sorted(set(range(1, total + 1)) - shards)
    if missing:
        raise CmktError(
            f"shard(s) {', '.join(map(str, missing))} of {total} are missing; run them (or copy their folders) "
            f"before merging"
        )
    return found


def merge_cache(source: Path, target: Path) -> None:
    """Add the entries of one teacher cache to another of the same teacher identity."""
    incoming = json.loads((source / "index.json").read_text(encoding="utf-8"))
    with file_lock(target / ".lock"):
        index_path = target / "index.json"
        index = (
            json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {**incoming, "entries": {}}
        )
        if index["identity"] != incoming["identity"]:
            raise CmktError(f"{source}: cache of another teacher than {target}; shards must use the same --teacher")
        next_shard = len({entry[0] for entry in index["entries"].values()})
        renumber: dict[int, int] = {}
        for key, (shard, offset, length) in incoming["entries"].items():
            if key in index["entries"]:
                continue
            if shard not in renumber:
                renumber[shard] = next_shard
                next_shard += 1
                with atomic_path(target / f"shard-{renumber[shard]:05d}.npy") as tmp:
                    shutil.copyfile(source / f"shard-{shard:05d}.npy", tmp)
            index["entries"][key] = [renumber[shard], offset, length]
        write_text_atomic(index_path, json.dumps(index))
