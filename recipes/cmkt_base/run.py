"""Train the shipped default model `cmkt-base-16k` (and its no-teacher baselines) from scratch.

Usage (the command that made the shipped weights is in README.md beside this file):

    python recipes/cmkt_base/run.py --data ../shared/data --out runs/cmkt_base --steps 6000 --seeds 0 1 2 \
        --parallel 2 --install

Data: the real multilingual Asterisk speech of ../shared/data (train split; valid for picking the
best checkpoint) plus the quickstart's 100 sentences spoken by eight offline TTS voices, mixed on
the fly (dynamic mixing) with the train-split noise recordings and generated noises (coloured,
hum, clicks, babble) at -5 to 20 dB. Trains CMKT (LM teacher all-MiniLM-L6-v2, attention bridge)
and the same backbone without a teacher, one run per seed. `--finetune-steps N` adds a second
stage: every run trained on from its best weights (`cmkt train --init`) with `--noise-augment` at a
lower learning rate; `--stoi-steps N [M ...]` adds stages after it with a STOI loss term, each
from the one before. `--install` copies the CMKT run of the first seed (of the last stage) into
cmkt/pretrained/ with its model card. Every stage resumes when rerun.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the other recipes, as the namespace package `recipes`
MODEL_NAME = "cmkt-base-16k"


def tts_voices() -> list:
    """The quickstart's four voices plus four more eSpeak NG variants: eight speakers in all."""
    from recipes.quickstart.run import VOICES, Voice

    return VOICES + [
        Voice("espeak_us_m1", "espeak", "en-us+m1", 1.0),
        Voice("espeak_us_f5", "espeak", "en-us+f5", 1.05),
        Voice("espeak_en_m4", "espeak", "en+m4", 0.9),
        Voice("espeak_en_f1", "espeak", "en+f1", 1.1),
    ]


def build_inputs(data: Path, out: Path) -> tuple[Path, Path]:
    """One speech table (real + TTS) and one noise tree (recordings + generated) with train/valid/test folders."""
    from cmkt.util.atomic_files import write_csv_atomic

    table = out / "speech_all.tsv"
    if table.is_file() and (out / "noise" / "test").is_dir():
        return table, out / "noise"
    from recipes.asterisk.run import build_inputs as build_real_inputs
    from recipes.quickstart.run import build_corpus, build_noise

    real_table, noise = build_real_inputs(data.resolve(), out)
    corpus = build_corpus(out / "tts", tts_voices())
    generated = build_noise(out / "generated_noise", corpus)
    rows = list(csv.DictReader(real_table.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in csv.DictReader(corpus.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE):
        rows.append({**row, "id": f"tts_{row['id']}", "path": str((corpus.parent / row["path"]).resolve())})
    for split_dir in generated.iterdir():
        for wav in split_dir.glob("*.wav"):
            link = noise / split_dir.name / f"generated_{wav.name}"
            if not link.exists():
                os.symlink(wav.resolve(), link)
    write_csv_atomic(
        table,
        ["id", "path", "text", "lang", "speaker", "split"],
        [{k: row[k] for k in ("id", "path", "text", "lang", "speaker", "split")} for row in rows],
        delimiter="\t",
    )
    return table, noise


def cmkt_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cmkt", *args]


SYSTEMS = {"cmkt": "auto", "baseline": "none"}  # system -> its teacher


@dataclass(frozen=True)
class Compute:
    """How each run computes: torch threads, batch size, device, data-loading processes."""

    threads: int = 0
    batch_size: int = 8
    device: str = "cpu"
    workers: int = 0


@dataclass(frozen=True)
class LaterStage:
    """A stage trained on from an earlier one: runs NAME_sK{start_suffix} -> NAME_sK{suffix}, seed K + seed_offset,
    validating every `valid_every` steps (0: 8 times)."""

    start_suffix: str
    suffix: str
    seed_offset: int
    valid_every: int = 0


@dataclass(frozen=True)
class StoiStage:
    """STOI stage `index` (0, 1, ...): its learning rate, STOI weight and what it adds (drifting noise levels,
    a deep filter of that order, re-coloured speech)."""

    lr: float = 1e-4
    weight: float = 0.5
    index: int = 0
    envelope: bool = False
    deep_filter: int = 0
    speech_eq: bool = False


def train_command(
    data: Path,
    run: Path,
    teacher: str,
    steps: int,
    seed: int,
    compute: Compute,
    valid_every: int,
    *extra: str,
) -> list[str]:
    """The `cmkt train` command of one run; `extra` adds the flags of its stage."""
    return cmkt_command(
        "train",
        "--train",
        str(data / "train.jsonl"),
        "--valid",
        str(data / "valid.jsonl"),
        "-o",
        str(run),
        "--teacher",
        teacher,
        "--dynamic-mixing",
        "--steps",
        str(steps),
        "--lr-decay",
        "cosine",
        "--valid-every",
        str(valid_every),
        "--valid-items",
        "48",
        "--seed",
        str(seed),
        "--threads",
        str(compute.threads),
        "--batch-size",
        str(compute.batch_size),
        "--device",
        compute.device,
        "--workers",
        str(compute.workers),
        *extra,
        *(["--resume"] if (run / "checkpoint.pt").is_file() else []),
    )


def train_commands(
    data: Path,
    out: Path,
    steps: int,
    seeds: list[int],
    compute: Compute = Compute(),
    systems: tuple[str, ...] = tuple(SYSTEMS),
    noise_augment: bool = False,
) -> dict[str, list[str]]:
    """Stage 1: one `cmkt train` command per (system, seed) from random weights; identical except for the teacher."""
    commands = {}
    for seed in seeds:
        for system in systems:
            run = out / "runs" / f"{system}_s{seed}"
            commands[run.name] = train_command(
                data,
                run,
                SYSTEMS[system],
                steps,
                seed,
                compute,
                max(1, steps // 10),
                *(["--noise-augment"] if noise_augment else []),
            )
    return commands


def later_stage_commands(
    data: Path,
    out: Path,
    steps: int,
    seeds: list[int],
    compute: Compute,
    systems: tuple[str, ...],
    stage: LaterStage,
    *extra: str,
) -> dict[str, list[str]]:
    """One `cmkt train --init` per (system, seed): the start's best weights trained on, with noise augmentation
    and `extra` flags, into the stage's runs."""
    commands = {}
    for seed in seeds:
        for system in systems:
            start = out / "runs" / f"{system}_s{seed}{stage.start_suffix}"
            run = out / "runs" / f"{system}_s{seed}{stage.suffix}"
            commands[run.name] = train_command(
                data,
                run,
                SYSTEMS[system],
                steps,
                seed + stage.seed_offset,
                compute,
                stage.valid_every or max(1, steps // 8),
                "--init",
                str(start / "model.pt"),
                "--noise-augment",
                *extra,
            )
    return commands


def finetune_commands(
    data: Path,
    out: Path,
    steps: int,
    seeds: list[int],
    compute: Compute = Compute(),
    systems: tuple[str, ...] = tuple(SYSTEMS),
    lr: float = 3e-4,
) -> dict[str, list[str]]:
    """Stage 2: each stage-1 run trained on from its best weights with noise augmentation (re-pitched,
    re-coloured, layered noises), at a lower learning rate: what made the shipped model generalise to
    unseen noise (docs/default_model/2026-11-23_finetune.md)."""
    return later_stage_commands(data, out, steps, seeds, compute, systems, LaterStage("", "_ft", 0), "--lr", f"{lr:g}")


STOI_LOSS = "spectral_mae=1,wave_mae=1,stoi={weight:g}"
STOI_SELECT = "pesq_wb=1,stoi=4"
STOI_VALID_EVERY = 300


def stoi_suffix(stage: int) -> str:
    """The run suffix of STOI stage `stage` (0, 1, ...): _stoi, _stoi2, ..."""
    return "_stoi" if stage == 0 else f"_stoi{stage + 1}"


def stoi_commands(
    data: Path,
    out: Path,
    steps: int,
    seeds: list[int],
    compute: Compute = Compute(),
    systems: tuple[str, ...] = tuple(SYSTEMS),
    stage: StoiStage = StoiStage(),
) -> dict[str, list[str]]:
    """Stage 3 and on: each stage-2 run (or the previous STOI stage's) trained on with a negative-STOI loss
    term beside the spectral and waveform terms, keeping the checkpoint with the best PESQ-WB + 4 STOI on
    valid (checked every 300 steps), with seed K + 2 + stage so its batches differ from every earlier
    stage's (docs/default_model/2026-11-23_stoi.md, 2026-11-23_stoi_stronger.md). With `envelope` the
    noises' levels drift too (`--noise-envelope`, docs/default_model/2026-11-23_noise_envelope.md). A
    `deep_filter` order grows a deep filter of that order onto the model (docs/default_model/2026-11-24_deep_filter.md).
    With `speech_eq` half the train utterances are re-coloured (`--speech-eq`,
    docs/default_model/2026-11-24_speech_eq.md)."""
    start = "_ft" if stage.index == 0 else stoi_suffix(stage.index - 1)
    return later_stage_commands(
        data,
        out,
        steps,
        seeds,
        compute,
        systems,
        LaterStage(start, stoi_suffix(stage.index), 2 + stage.index, STOI_VALID_EVERY),
        "--lr",
        f"{stage.lr:g}",
        "--loss",
        STOI_LOSS.format(weight=stage.weight),
        "--select",
        STOI_SELECT,
        *(["--noise-envelope"] if stage.envelope else []),
        *(["--speech-eq"] if stage.speech_eq else []),
        *(["--model-config", json.dumps({"deep_filter_order": stage.deep_filter})] if stage.deep_filter else []),
    )


def per_stage(values: list, stages: int, flag: str) -> list:
    """One value per STOI stage from a command-line list of one value (every stage) or one per stage."""
    if len(values) not in (1, stages):
        sys.exit(f"{flag}: give one value or one per STOI stage ({stages}), not {len(values)}")
    return values * stages if len(values) == 1 else values


def run_all(commands: dict[str, list[str]], parallel: int, logs: Path) -> None:
    """Run the training commands, `parallel` at a time; each one's output goes to logs/NAME.log."""
    logs.mkdir(parents=True, exist_ok=True)
    waiting, running, failed = list(commands.items()), [], []
    while waiting or running:
        while waiting and len(running) < parallel:
            name, command = waiting.pop(0)
            print(f"$ {shlex.join(command[2:])}  > {logs / name}.log", flush=True)
            running.append(
                (name, subprocess.Popen(command, stdout=(logs / f"{name}.log").open("a"), stderr=subprocess.STDOUT))
            )
        time.sleep(5)
        for name, process in list(running):
            if process.poll() is not None:
                running.remove((name, process))
                ended = (
                    "done" if process.returncode == 0 else f"FAILED (exit {process.returncode}), see {logs / name}.log"
                )
                print(f"{name}: {ended}", flush=True)
                if process.returncode:
                    failed.append(name)
    if failed:
        sys.exit(f"training failed for {', '.join(failed)}")


def install(run: Path, command: str) -> Path:
    """Copy a run's best model into cmkt/pretrained/ under the shipped name, with how it was made."""
    from cmkt.registry import read_checkpoint, save_torch

    payload = read_checkpoint(run / "model.pt")
    payload.update(
        name=MODEL_NAME, recipe=command, licence_note="trained on CC-BY-SA-3.0/CC-BY-3.0 speech; see the model card"
    )
    target = REPO / "cmkt" / "pretrained" / f"{MODEL_NAME}.pt"
    save_torch(target, payload)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "cmkt_base")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", type=int, default=1, help="training runs at a time")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (0: cores / parallel)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="where each run trains: cpu, cuda, ...")
    parser.add_argument("--workers", type=int, default=0, help="data-loading processes per run")
    parser.add_argument(
        "--systems",
        nargs="+",
        default=list(SYSTEMS),
        choices=list(SYSTEMS),
        help="which runs per seed: CMKT, its no-teacher baseline, or both",
    )
    parser.add_argument(
        "--noise-augment",
        action="store_true",
        help="re-pitch, re-colour and layer the train noises (cmkt train --noise-augment)",
    )
    parser.add_argument(
        "--finetune-steps",
        type=int,
        default=0,
        help="stage 2: train each run on for this many steps with noise augmentation at --finetune-lr (0: skip)",
    )
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--finetune-batch-size", type=int, default=8)
    parser.add_argument(
        "--stoi-steps",
        type=int,
        nargs="*",
        default=[],
        help="stage 3 and on (after --finetune-steps): this many steps with a STOI loss term, into "
        "runs/NAME_sK_stoi; a second number adds a stage from that one into NAME_sK_stoi2, and so on",
    )
    parser.add_argument("--stoi-lr", type=float, default=1e-4)
    parser.add_argument(
        "--stoi-weight",
        type=float,
        nargs="+",
        default=[0.5],
        help="weight of the negative-STOI loss term, one per STOI stage (one number: every stage)",
    )
    parser.add_argument(
        "--stoi-envelope",
        type=int,
        nargs="+",
        default=[0],
        choices=[0, 1],
        help="1: that STOI stage also drifts the noises' levels (cmkt train --noise-envelope); one per stage or one "
        "for all",
    )
    parser.add_argument(
        "--stoi-deep-filter",
        type=int,
        nargs="+",
        default=[0],
        help="N > 0: that STOI stage grows a deep filter of order N onto the model "
        "(--model-config '{\"deep_filter_order\": N}'); one per stage or one for all",
    )
    parser.add_argument(
        "--stoi-speech-eq",
        type=int,
        nargs="+",
        default=[0],
        choices=[0, 1],
        help="1: that STOI stage also re-colours half the train speech (cmkt train --speech-eq); one per stage or "
        "one for all",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help=f"copy the first seed's CMKT model of the last stage run to cmkt/pretrained/{MODEL_NAME}.pt",
    )
    args = parser.parse_args()
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.parallel)
    data = args.out / "data"
    if not (data / "test.jsonl").is_file():
        table, noise = build_inputs(args.data, args.out)
        subprocess.run(
            cmkt_command(
                "prep",
                "--speech",
                str(table),
                "--noise",
                str(noise),
                "-o",
                str(data),
                "--snr-range",
                "-5",
                "20",
                "--teacher",
                "all-MiniLM-L6-v2",
            ),
            check=True,
        )
    compute = Compute(threads, args.batch_size, args.device, args.workers)
    later = Compute(threads, args.finetune_batch_size, args.device, args.workers)
    run_all(
        train_commands(data, args.out, args.steps, args.seeds, compute, tuple(args.systems), args.noise_augment),
        args.parallel,
        args.out / "logs",
    )
    if args.finetune_steps:
        run_all(
            finetune_commands(
                data, args.out, args.finetune_steps, args.seeds, later, tuple(args.systems), args.finetune_lr
            ),
            args.parallel,
            args.out / "logs",
        )
    if args.stoi_steps:
        if not args.finetune_steps:
            sys.exit("--stoi-steps trains on from stage 2: give --finetune-steps too")
        weights = per_stage(args.stoi_weight, len(args.stoi_steps), "--stoi-weight")
        envelopes = per_stage(args.stoi_envelope, len(args.stoi_steps), "--stoi-envelope")
        filters = per_stage(args.stoi_deep_filter, len(args.stoi_steps), "--stoi-deep-filter")
        speech_eqs = per_stage(args.stoi_speech_eq, len(args.stoi_steps), "--stoi-speech-eq")
        for stage, (steps, weight, envelope, order, speech_eq) in enumerate(
            zip(args.stoi_steps, weights, envelopes, filters, speech_eqs)
        ):
            run_all(
                stoi_commands(
                    data,
                    args.out,
                    steps,
                    args.seeds,
                    later,
                    tuple(args.systems),
                    StoiStage(args.stoi_lr, weight, stage, bool(envelope), order, bool(speech_eq)),
                ),
                args.parallel,
                args.out / "logs",
            )
    if args.install:
        last = stoi_suffix(len(args.stoi_steps) - 1) if args.stoi_steps else "_ft" if args.finetune_steps else ""
        shipped = f"cmkt_s{args.seeds[0]}{last}"
        target = install(args.out / "runs" / shipped, shlex.join(["python", *sys.argv]))
        print(f"installed {target}")


if __name__ == "__main__":
    main()
