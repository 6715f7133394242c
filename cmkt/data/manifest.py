"""The manifest: one JSON object per utterance (JSON Lines), paths relative to the manifest.

A person can open it in any editor; every stage reads it through `read_manifest`, which checks
each line and names the line and the fix when something is wrong.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_text_atomic

REQUIRED_KEYS = ("id", "clean")
_TEXT, _NUMBER, _NONE = (str,), (int, float), (type(None),)
# JSON types each key may hold, and how to say so
KEY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **{key: (_TEXT, "a string") for key in ("id", "clean", "text", "split", "lang", "speaker", "noise")},
    "noisy": (_TEXT + _NONE, "a string or null"),
    "snr_db": (_NUMBER + _NONE, "a number or null"),
    "duration_s": (_NUMBER, "a number"),
    "sample_rate": ((int,), "an integer"),
    "extra": ((dict,), "an object"),
}


@dataclass
class Utterance:
    """One training or evaluation example: clean speech, its noisy mixture, its transcript."""

    id: str
    clean: str
    noisy: str | None = None
    text: str = ""
    split: str = "train"
    lang: str = ""
    speaker: str = ""
    noise: str = ""
    snr_db: float | None = None
    duration_s: float = 0.0
    sample_rate: int = 16000
    extra: dict = field(default_factory=dict)

    def resolved(self, root: Path) -> "Utterance":
        """A copy whose audio paths are absolute (relative ones are taken from `root`)."""
        copy = Utterance(**asdict(self))
        copy.clean = str((root / self.clean).resolve()) if self.clean else self.clean
        copy.noisy = str((root / self.noisy).resolve()) if self.noisy else None
        return copy


def write_manifest(path: str | Path, utterances: list[Utterance]) -> None:
    """Write utterances as JSON Lines, atomically."""
    lines = [json.dumps(asdict(u), ensure_ascii=False) for u in utterances]
    write_text_atomic(path, "\n".join(lines) + ("\n" if lines else ""))


def _parse_line(line: str, where: str) -> Utterance:
    """One manifest line as an Utterance (paths as written), or one line naming what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CmktError(f"{where}: bad JSON ({exc.msg}); fix or delete the line") from exc
    if not isinstance(record, dict):
        raise CmktError(f"{where}: expected a JSON object per line; fix or delete the line")
    missing = [k for k in REQUIRED_KEYS if not record.get(k)]
    if missing:
        raise CmktError(f"{where}: missing key(s) {', '.join(missing)}; every line needs id and clean")
    for key, value in record.items():
        allowed, description = KEY_TYPES.get(key, ((object,), ""))
        if not isinstance(value, allowed) or (isinstance(value, bool) and allowed != (object,)):
            raise CmktError(f"{where}: {key} must be {description}, not {json.dumps(value)}; fix the line")
    known = set(Utterance.__dataclass_fields__)
    extra = {k: record.pop(k) for k in list(record) if k not in known}
    record.setdefault("extra", {}).update(extra)
    return Utterance(**record)


def read_manifest(path: str | Path, *, check_files: bool = True) -> list[Utterance]:
    """Load and validate a manifest; audio paths come back absolute."""
    path = Path(path)
    if not path.is_file():
        raise CmktError(f"{path}: manifest not found; run `cmkt prep` first or check the path")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CmktError(f"{path}: manifest is not UTF-8 text; re-save it as UTF-8") from exc
    seen: set[str] = set()
    utterances = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        utt = _parse_line(line, where).resolved(path.parent)
        if utt.id in seen:
            raise CmktError(f"{where}: duplicate id {utt.id!r}; ids must be unique")
        seen.add(utt.id)
        if check_files:
            for key in ("clean", "noisy"):
                audio = getattr(utt, key)
                if audio and not Path(audio).is_file():
                    raise CmktError(f"{where}: {key} file {audio} not found; fix the path or rerun `cmkt prep`")
        utterances.append(utt)
    if not utterances:
        raise CmktError(f"{path}: manifest has no utterances; check that `cmkt prep` found audio")
    return utterances
