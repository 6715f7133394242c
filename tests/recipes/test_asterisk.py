"""The asterisk recipe's inputs from ../shared/data (skipped where it is absent)."""

import csv
from pathlib import Path

from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.data.manifest import read_manifest

from recipes.asterisk.run import build_inputs


def test_asterisk_inputs_prepare_five_languages_with_split_noise(shared_data, tmp_path):
    table, noise = build_inputs(shared_data, tmp_path)
    rows = list(csv.DictReader(table.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 2550 and {r["lang"] for r in rows} == {"en", "es", "fr", "it", "ru"}
    assert all(any((noise / split).iterdir()) for split in ("train", "valid", "test"))
    subset = tmp_path / "subset.tsv"  # a few prompts per language and split keep the test short
    keep, seen = [], {}
    for row in rows:
        key = (row["lang"], row["split"])
        if seen.get(key, 0) < 2:
            seen[key] = seen.get(key, 0) + 1
            keep.append(row)
    with subset.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(rows[0]), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"
        )
        writer.writeheader()
        writer.writerows(keep)
    result = CliRunner().invoke(
        app,
        [
            "prep",
            "--speech",
            str(subset),
            "--noise",
            str(noise),
            "-o",
            str(tmp_path / "data"),
            "--snr-range",
            "-5",
            "20",
            "--teacher",
            "none",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "languages en, es, fr, it, ru" in result.output
    test = read_manifest(tmp_path / "data" / "test.jsonl")
    test_noises = {Path(p).stem for p in (noise / "test").iterdir()}
    assert len(test) == 10 and {u.noise for u in test} <= test_noises
