"""Where each scored file's audio is: `cmkt score -o` writes audio.json beside scores.csv, and
`cmkt compare` joins its runs' indexes, so a listening page can be made from the scores alone."""

from __future__ import annotations

import json
from pathlib import Path

from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_text_atomic

AUDIO_INDEX = "audio.json"


def audio_index(pairs_by_system: dict[str, list]) -> dict:
    """{"reference": {file: path}, "systems": {system: {file: path}}} from each system's scored pairs."""
    index: dict = {"reference": {}, "systems": {}}
    for system, pairs in pairs_by_system.items():
        for pair in pairs:
            index["reference"][pair.key] = str(Path(pair.reference).resolve())
            if pair.estimate is not None:
                index["systems"].setdefault(system, {})[pair.key] = str(Path(pair.estimate).resolve())
    return index


def write_audio_index(folder: Path, index: dict) -> Path:
    write_text_atomic(folder / AUDIO_INDEX, json.dumps(index, indent=1, ensure_ascii=False))
    return folder / AUDIO_INDEX


def read_audio_indexes(runs: list[Path]) -> dict:
    """The joined audio indexes of score or compare folders; a run without one is named with the fix."""
    joined: dict = {"reference": {}, "systems": {}}
    for run in runs:
        path = (run if run.is_dir() else run.parent) / AUDIO_INDEX
        if not path.is_file():
            raise CmktError(
                f"{path}: no audio index here; score again with this cmkt (`cmkt score ... -o {path.parent}`), "
                "which records where each file's audio is"
            )
        index = json.loads(path.read_text(encoding="utf-8"))
        joined["reference"].update(index.get("reference", {}))
        for system, files in index.get("systems", {}).items():
            joined["systems"].setdefault(system, {}).update(files)
    return joined
