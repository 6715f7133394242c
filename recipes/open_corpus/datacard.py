"""The data card: per source and split, what the corpus holds, what was dropped and why."""

from __future__ import annotations

import datetime
import subprocess
from collections import defaultdict
from pathlib import Path

SPLITS = ("train", "valid", "test")


def _du_mb(folder: Path) -> float:
    try:
        return (
            int(
                subprocess.run(["du", "-sk", str(folder)], capture_output=True, check=True, text=True).stdout.split()[0]
            )
            / 1024
        )
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError, IndexError):
        return 0.0


def summarise(
    out: Path,
    speech: list[dict],
    noise: list[dict],
    dropped: dict,
    problems: list[str],
    conditions: dict,
    seconds: float,
) -> dict:
    """Counts by source and split, as plain data (build_report.json)."""
    speech_table: dict = defaultdict(
        lambda: defaultdict(
            lambda: {"files": 0, "hours": 0.0, "speakers": set(), "male": set(), "female": set(), "languages": set()}
        )
    )
    for row in speech:
        cell = speech_table[row["source"]][row["split"]]
        cell["files"] += 1
        cell["hours"] += float(row["seconds"]) / 3600
        cell["speakers"].add(row["speaker"])
        cell["languages"].add(row["lang"])
        if row["gender"] in ("m", "f"):
            cell["male" if row["gender"] == "m" else "female"].add(row["speaker"])
    noise_table: dict = defaultdict(lambda: defaultdict(lambda: {"recordings": 0, "hours": 0.0, "families": set()}))
    for row in noise:
        cell = noise_table[row["source"]][row["split"]]
        cell["recordings"] += 1
        cell["hours"] += float(row["seconds"]) / 3600
        cell["families"].add(row["family"])

    def as_counts(cell: dict) -> dict:
        counts = {
            k: (len(v) if isinstance(v, set) else round(v, 3) if isinstance(v, float) else v) for k, v in cell.items()
        }
        return counts | {"languages_list": sorted(cell.get("languages", []))}

    noise_files = {split: sum(1 for _ in (out / "noise" / split).rglob("*.flac")) for split in SPLITS}
    return {
        "date": datetime.date.today().isoformat(),
        "speakers": len({r["speaker"] for r in speech}),
        "speakers_by_split": {s: len({r["speaker"] for r in speech if r["split"] == s}) for s in SPLITS},
        "utterances": len(speech),
        "speech_hours": round(sum(float(r["seconds"]) for r in speech) / 3600, 2),
        "noise_recordings": len(noise),
        "noise_hours": round(sum(float(r["seconds"]) for r in noise) / 3600, 2),
        "noise_families": sorted({r["family"] for r in noise}),
        "noise_test_families": sorted({r["family"] for r in noise if r["split"] == "test"}),
        "ambience_test_share": round(
            sum(1 for r in noise if r["kind"] == "ambience" and r["split"] == "test")
            / max(1, sum(1 for r in noise if r["kind"] == "ambience")),
            3,
        ),
        "noise_files_by_split": noise_files,
        "speech_by_source": {src: {s: as_counts(c) for s, c in cells.items()} for src, cells in speech_table.items()},
        "noise_by_source": {src: {s: as_counts(c) for s, c in cells.items()} for src, cells in noise_table.items()},
        "dropped": dropped,
        "problems": problems,
        "open_test": {k: str(v) for k, v in conditions.items()},
        "size_mb": round(_du_mb(out / "audio") + _du_mb(out / "noise") + _du_mb(out / "open_test"), 1),
        "wall_minutes": round(seconds / 60, 1),
    }


def render(summary: dict, licences: dict[str, str]) -> str:
    """Markdown: the totals in words, then one table for speech and one for noise."""
    lines = [
        f"# Open corpus data card (built {summary['date']})",
        "",
        f"**{summary['speakers']} speakers** "
        f"({', '.join(f'{n} {s}' for s, n in summary['speakers_by_split'].items())}), "
        f"{summary['utterances']} utterances, {summary['speech_hours']} h of speech; "
        f"**{summary['noise_recordings']} noise recordings**, {summary['noise_hours']} h, "
        f"{len(summary['noise_families'])} families ({', '.join(summary['noise_families'])}); every family in test: "
        f"{summary['noise_test_families'] == summary['noise_families']}; ambiences held out for test: "
        f"{summary['ambience_test_share']:.0%}. Noise files after cutting and bed-making: "
        f"{summary['noise_files_by_split']}. Size {summary['size_mb']:.0f} MB; built in {summary['wall_minutes']} min.",
        "",
        "## Speech",
        "",
        "| source | split | files | hours | speakers (m/f) | languages | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for source, cells in sorted(summary["speech_by_source"].items()):
        for split in SPLITS:
            if split in cells:
                c = cells[split]
                lines.append(
                    f"| {source} | {split} | {c['files']} | {c['hours']:.2f} | {c['speakers']} "
                    f"({c['male']}/{c['female']}) "
                    f"| {' '.join(c['languages_list'])} | {licences.get(source, '')} |"
                )
    lines += [
        "",
        "## Noise",
        "",
        "| source | split | recordings | hours | families | licence |",
        "|---|---|---|---|---|---|",
    ]
    for source, cells in sorted(summary["noise_by_source"].items()):
        for split in SPLITS:
            if split in cells:
                c = cells[split]
                lines.append(
                    f"| {source} | {split} | {c['recordings']} | {c['hours']:.2f} | {c['families']} | "
                    f"{licences.get(source, '')} |"
                )
    lines += ["", "## Dropped", "", "| source | reason | files |", "|---|---|---|"]
    for source, reasons in sorted(summary["dropped"].items()):
        for reason, count in sorted(reasons.items()):
            lines.append(f"| {source} | {reason} | {count} |")
    if summary["problems"]:
        lines += ["", f"## Problems ({len(summary['problems'])}, each skipped)", ""] + [
            f"- {p}" for p in summary["problems"][:50]
        ]
    return "\n".join(lines) + "\n"
