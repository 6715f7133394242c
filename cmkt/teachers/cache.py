"""The teacher-embedding cache: computed once in `cmkt prep`, memory-mapped in training.

Layout of one cache folder (one per teacher identity, so a different model never reuses it):
  index.json            {"identity", "teacher", "dim", "entries": {text_key: [shard, offset, tokens]}}
  shard-00000.npy ...   float16 arrays (tokens, dim), appended shard by shard
A build only computes the texts that are missing, so an interrupted or extended build resumes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from cmkt.errors import CmktError
from cmkt.util.atomic_files import atomic_path, file_lock, write_text_atomic


def text_key(text: str) -> str:
    """Cache key of a transcript (identical texts share one entry)."""
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Read access to a built cache (memory-mapped shards)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        index_path = self.folder / "index.json"
        if not index_path.is_file():
            raise CmktError(f"{index_path}: teacher cache index not found; rerun `cmkt prep` to build it")
        try:
            self.index = json.loads(index_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CmktError(f"{index_path}: corrupt cache index; delete the folder and rerun `cmkt prep`") from exc
        self.dim = int(self.index["dim"])
        self._shards: dict[int, np.ndarray] = {}

    @property
    def identity(self) -> str:
        return self.index["identity"]

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self.index["entries"]

    def get(self, text: str) -> np.ndarray | None:
        """Token embeddings (tokens, dim) as float32, or None if the text has no entry."""
        entry = self.index["entries"].get(text_key(text))
        if entry is None:
            return None
        shard, offset, length = entry
        if shard not in self._shards:
            self._shards[shard] = np.load(self.folder / f"shard-{shard:05d}.npy", mmap_mode="r")
        return np.asarray(self._shards[shard][offset : offset + length], dtype=np.float32)


def cache_folder(root: str | Path, teacher_name: str, identity: str) -> Path:
    """Where the cache of one teacher identity lives below `root`."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(teacher_name).name)[:40]
    return Path(root) / f"{slug}-{identity}"


def build_cache(root: str | Path, teacher, texts: list[str], on_progress=None, batch_size: int = 64) -> Path:
    """Compute embeddings for the texts not yet cached; return the cache folder.

    `teacher` needs `.name`, `.dim`, `.identity()` and `.encode(list[str])` (see LMTeacher).
    """
    identity = teacher.identity()
    folder = cache_folder(root, teacher.name, identity)
    with file_lock(folder / ".lock"):  # a second builder waits, then finds the texts done
        return _build_locked(folder, identity, teacher, texts, on_progress, batch_size)


def _build_locked(folder: Path, identity: str, teacher, texts: list[str], on_progress, batch_size: int) -> Path:
    index_path = folder / "index.json"
    if index_path.is_file():
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("identity") != identity:
            raise CmktError(f"{index_path}: cache belongs to another teacher; delete the folder")
    else:
        index = {"identity": identity, "teacher": teacher.name, "dim": teacher.dim, "entries": {}}
    todo = sorted({t.strip() for t in texts if t.strip() and text_key(t) not in index["entries"]})
    shard_id = len({entry[0] for entry in index["entries"].values()})
    done = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        embeddings = teacher.encode(batch)
        offset, blocks = 0, []
        for text, emb in zip(batch, embeddings):
            index["entries"][text_key(text)] = [shard_id, offset, int(emb.shape[0])]
            offset += emb.shape[0]
            blocks.append(emb.astype(np.float16))
        with atomic_path(folder / f"shard-{shard_id:05d}.npy") as tmp:
            np.save(tmp, np.concatenate(blocks, axis=0))
        write_text_atomic(index_path, json.dumps(index))
        shard_id += 1
        done += len(batch)
        if on_progress:
            on_progress(done, len(todo))
    if not index_path.is_file():
        write_text_atomic(index_path, json.dumps(index))
    return folder
