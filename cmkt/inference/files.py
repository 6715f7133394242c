"""`cmkt enhance` over files: which inputs, where outputs go, and a log of what happened.

Inputs are files, folders (recursive), glob patterns and list files; a folder or glob's tree is
mirrored under the output folder. A bad file is reported and skipped; the others still get done.
"""

from __future__ import annotations

import glob
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cmkt.audio import (
    AUDIO_SUFFIXES,
    Audio,
    audio_seconds,
    find_audio_files,
    open_audio,
    output_subtype,
    read_audio,
    resample,
    truncation_note,
    write_audio,
)
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_csv_atomic, write_text_atomic
from cmkt.inference.enhancer import Enhancer, enhance_clips, enhance_file, load_enhancer
from cmkt.util.interrupts import Interrupted, raise_if_stopped, signals_as_exceptions
from cmkt.util.progress import progress_bar
from cmkt.util.sharding import take_shard

GLOB_CHARS = set("*?[")


@dataclass
class FileLog:
    input: str
    output: str
    status: str  # written | skipped | failed
    duration_s: float = 0.0
    compute_s: float = 0.0
    rtf: float = 0.0
    error: str = ""
    model: str = ""  # the model that made the output (Enhancer.identity), for a skipped one the model that made it then


@dataclass
class EnhanceSummary:
    rows: list[FileLog] = field(default_factory=list)
    latency_ms: float = 0.0  # algorithmic latency of the model's streaming path
    high_band_latency_ms: float = 0.0  # added for inputs above the model's rate (the full-band join)
    notes: list[str] = field(default_factory=list)  # what was passed over without being a failure
    interrupted: Interrupted | None = None  # the signal that stopped the run early (the file in flight was not kept)
    other_model: list[str] = field(default_factory=list)  # skipped outputs that another model made

    def _with(self, status: str) -> list[FileLog]:
        return [r for r in self.rows if r.status == status]

    @property
    def written(self) -> list[Path]:
        return [Path(r.output) for r in self._with("written")]

    @property
    def skipped(self) -> list[Path]:
        return [Path(r.output) for r in self._with("skipped")]

    @property
    def failed(self) -> list[str]:
        return [r.error for r in self._with("failed")]

    @property
    def audio_s(self) -> float:
        return sum(r.duration_s for r in self.rows)

    @property
    def compute_s(self) -> float:
        return sum(r.compute_s for r in self.rows)


def read_list_file(path: str | Path) -> list[str]:
    """Paths one per line; blank lines and '#' comments ignored; relative paths are from the list."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CmktError(
            f"{path}: cannot read the list file ({exc}); give a UTF-8 text file with one path per line"
        ) from exc
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [str(path.parent / entry) if not Path(entry).is_absolute() else entry for entry in entries]


SIDECAR_SUFFIXES = (
    ".txt",
    ".lab",
    ".csv",
    ".json",
    ".jsonl",
    ".md",
    ".png",
)  # transcripts, logs, plots: not worth a note


def glob_base(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard: outputs mirror the tree below it."""
    parts = Path(pattern).parts
    first_wild = next(i for i, part in enumerate(parts) if GLOB_CHARS & set(part))
    return Path(*parts[:first_wild]) if first_wild else Path(".")


def plan_outputs(
    inputs: list[str | Path], out_dir: str | Path, suffix: str = "", extension: str | None = None
) -> list[tuple[Path, Path]]:
    """(input, output) pairs: folder and glob trees are mirrored under out_dir, a file lands at its name.

    `extension` ("flac", ...) changes the output container; by default it is the input's. Files
    inside out_dir are never inputs (an output folder within the input tree is not enhanced again),
    and two inputs never share an output: colliding names keep as many parent folders as it takes
    to tell them apart. An input that matches nothing raises; `plan_inputs` reports it and goes on.
    """
    plan = plan_inputs(inputs, out_dir, suffix, extension)
    if plan.problems:
        raise CmktError(plan.problems[0])
    return plan.jobs


@dataclass
class Plan:
    """What a run will do: (input, output) jobs, a problem line for each input that gives nothing
    (a glob or folder without audio, a path that would climb out of -o), and notes on what a folder
    held that is not audio."""

    jobs: list[tuple[Path, Path]]
    problems: list[str]
    notes: list[str]


def plan_inputs(inputs: list[str | Path], out_dir: str | Path, suffix: str = "", extension: str | None = None) -> Plan:
    """`plan_outputs`, reporting problems instead of raising, so that the other inputs are done."""
    out_dir = Path(out_dir)
    if os.sep in suffix or (os.altsep and os.altsep in suffix):
        raise CmktError(f"--suffix {suffix!r}: a suffix cannot hold a path separator; use letters, digits, '_' or '-'")
    root = os.path.normpath(os.path.abspath(out_dir))
    jobs: list[tuple[Path, Path]] = []
    problems: list[str] = []
    notes: list[str] = []

    def target(rel: Path) -> Path:
        path = _output_path(out_dir, rel, suffix, extension)
        if not _inside(path, root):
            raise CmktError(
                f"{rel}: its output {path} would land outside {out_dir} ('..' in the path); "
                "give the input without '..' or as a folder"
            )
        return path

    for given in inputs:
        text = str(given)
        source = Path(text)
        try:
            if source.is_dir():
                found = [p for p in find_audio_files(source) if not _inside(p, root)]
                others = [
                    p
                    for p in source.rglob("*")
                    if p.is_file()
                    and not p.name.startswith(".")
                    and not _inside(p, root)
                    and p.suffix.lower() not in AUDIO_SUFFIXES
                    and p.suffix.lower() not in SIDECAR_SUFFIXES
                ]
                if others:
                    kinds = ", ".join(sorted({p.suffix.lower() or "(no suffix)" for p in others}))
                    notes.append(f"{source}: passed over {len(others)} file(s) that are not audio it reads ({kinds})")
                if not found:
                    raise CmktError(
                        f"{source}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder; check the path"
                    )
                jobs.extend((path, target(path.relative_to(source))) for path in found)
            elif not source.exists() and GLOB_CHARS & set(text):
                base = glob_base(text)
                matches = sorted(
                    Path(p)
                    for p in glob.glob(text, recursive=True)
                    if Path(p).suffix.lower() in AUDIO_SUFFIXES and Path(p).is_file() and not _inside(Path(p), root)
                )
                if not matches:
                    raise CmktError(
                        f"{text}: the pattern matches no audio files; check it (quote it so the shell leaves it alone)"
                    )
                jobs.extend((path, target(path.relative_to(base))) for path in matches)
            else:
                jobs.append((source, target(Path(source.name))))
        except CmktError as exc:
            problems.append(str(exc))
    return Plan(_unique_outputs(jobs, out_dir, suffix, extension), problems, notes)


def _output_path(out_dir: Path, rel: Path, suffix: str, extension: str | None) -> Path:
    """Where the input at `rel` (relative to its base) is written: its name plus `suffix`, in `extension`'s
    container."""
    return out_dir / rel.with_name(rel.stem + suffix + (f".{extension}" if extension else rel.suffix))


def _inside(path: Path, root: str) -> bool:
    return os.path.commonpath([root, os.path.normpath(os.path.abspath(path))]) == root


def _unique_outputs(
    jobs: list[tuple[Path, Path]], out_dir: Path, suffix: str, extension: str | None
) -> list[tuple[Path, Path]]:
    """A job given twice (the same input to the same output) once; inputs that would share an
    output keep more of their own path (a/x.wav and b/x.wav -> out/a/x.wav and out/b/x.wav) until
    every output is distinct."""
    seen, unique = set(), []
    for source, out in jobs:
        key = (os.path.normpath(os.path.abspath(source)), os.path.normpath(os.path.abspath(out)))
        if key not in seen:
            seen.add(key)
            unique.append((source, out))
    for depth in range(1, 64):
        by_target: dict[str, list[int]] = {}
        for index, (_, out) in enumerate(unique):
            by_target.setdefault(os.path.normpath(os.path.abspath(out)), []).append(index)
        clashes = [i for group in by_target.values() if len(group) > 1 for i in group]
        if not clashes:
            return unique
        for index in clashes:
            source, out = unique[index]
            parts = Path(os.path.normpath(os.path.abspath(source))).parts[1:]
            unique[index] = (source, _output_path(out_dir, Path(*parts[-(depth + 1) :]), suffix, extension))
    raise CmktError(f"{unique[clashes[0]][0]}: cannot give it an output of its own; enhance it in a separate run")


def _to_enhance(
    row: FileLog,
    source: Path,
    target: Path,
    enhancer: Enhancer,
    overwrite: bool,
    summary: EnhanceSummary,
    input_set: set[Path],
) -> bool:
    """Whether `source` is to be enhanced now: False for an existing output (the row says skipped, and
    by which model it was made); a CmktError for an input that cannot be."""
    if target.resolve() in input_set:
        raise CmktError(f"{target}: output would overwrite an input; choose another -o folder or a --suffix")
    if target.exists() and not overwrite:
        row.status, row.model = "skipped", made_by(target)
        if row.model and f"sha256:{enhancer.fingerprint}" not in row.model:  # other weights, whatever the file's name
            summary.other_model.append(f"{target} (made with {row.model})")
        return False
    if not source.exists():
        raise CmktError(f"{source}: no such file or folder; check the path")
    if source.suffix.lower() not in AUDIO_SUFFIXES:
        raise CmktError(f"{source}: not an audio file cmkt reads ({', '.join(AUDIO_SUFFIXES)}); convert it first")
    return True


def _run_parallel(
    jobs: list[tuple[Path, Path]],
    seconds: dict[Path, float],
    enhancer: Enhancer,
    options: EnhanceOptions,
    summary: EnhanceSummary,
    input_set: set[Path],
) -> None:
    """`_run_jobs` over `options.jobs` worker processes, one torch thread each, files handed out as
    workers free up. On a signal the files in flight are finished (workers ignore it) and logged;
    the ones not started are not."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with progress_bar(unit="s of audio") as bar:
        task = bar.add_task(f"enhancing ({options.jobs} processes)", total=sum(seconds.values()) or 1.0, status="")
        pending = {}
        pool = ProcessPoolExecutor(
            options.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(enhancer.source, enhancer.dry, enhancer.band, enhancer.high_band, enhancer.post_filter),
        )
        try:
            for source, target in jobs:
                raise_if_stopped()
                row = FileLog(str(source), str(target), "written", model=enhancer.identity)
                summary.rows.append(row)
                try:
                    if _to_enhance(row, source, target, enhancer, options.overwrite, summary, input_set):
                        future = pool.submit(
                            _worker_enhance,
                            str(source),
                            str(target),
                            options.block_seconds,
                            options.out_rate,
                            options.out_subtype,
                            MADE_BY + enhancer.identity,
                        )
                        pending[future] = row
                        continue
                except CmktError as exc:
                    row.status, row.error = "failed", str(exc)
                bar.advance(task, seconds[source])
            while pending:
                raise_if_stopped()
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    row = pending.pop(future)
                    _take_result(row, future)
                    summary.notes.extend(filter(None, [truncation_note(Path(row.input))]))
                    bar.advance(task, seconds[Path(row.input)])
                    bar.update(task, status=Path(row.input).name[:30])
        except Interrupted:
            pool.shutdown(wait=True, cancel_futures=True)  # files in flight finish; the rest never start
            for future, row in pending.items():
                if future.done() and not future.cancelled():
                    _take_result(row, future)
                else:
                    row.status = "not started"
            summary.rows = [row for row in summary.rows if row.status != "not started"]
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _take_result(row: FileLog, future) -> None:
    try:
        row.duration_s, row.compute_s = future.result()
        row.rtf = row.compute_s / row.duration_s if row.duration_s else 0.0
    except CmktError as exc:
        row.status, row.error = "failed", str(exc)


_WORKER: dict = {}  # the enhancer of this worker process


def _worker_start(model: str, dry: float, band: str, high_band, post_filter: float) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what a Ctrl-C stops
    _WORKER["enhancer"] = load_enhancer(
        model, threads=1, dry=dry, band=band, high_band=high_band, post_filter=post_filter
    )


def _worker_enhance(
    source: str, target: str, block_seconds: float, out_rate: int | None, out_subtype: str | None, comment: str
) -> tuple[float, float]:
    result = enhance_file(_WORKER["enhancer"], source, target, block_seconds, out_rate, out_subtype, comment=comment)
    return result.duration_s, result.compute_s


def _written_since(row: FileLog, started_ns: int, seconds: dict[Path, float]) -> bool:
    """Whether a row marked written really got its output in this run (a signal can land between
    an output's rename and its row's update, or before either); fills a missing duration."""
    output = Path(row.output)
    if not output.is_file() or output.stat().st_mtime_ns < started_ns:
        return False
    row.duration_s = row.duration_s or seconds.get(Path(row.input), 0.0)
    return True


def _header_seconds(path: Path) -> float:
    """A file's duration from its header, 0 for what cannot be read (it fails later, by name)."""
    try:
        return audio_seconds(path)
    except CmktError:
        return 0.0


def write_log(path: str | Path, rows: list[FileLog]) -> None:
    """Per-file log as CSV or JSON (by the file's suffix)."""
    records = [asdict(r) for r in rows]
    if Path(path).suffix.lower() == ".json":
        write_text_atomic(path, json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    else:
        write_csv_atomic(path, list(FileLog.__dataclass_fields__), records)


@dataclass(kw_only=True)
class EnhanceOptions:
    """How `enhance_paths` names, writes and logs outputs (the enhancer says how audio is enhanced)."""

    suffix: str = ""  # appended to each output's stem
    overwrite: bool = False  # replace existing outputs instead of skipping them
    shard: tuple[int, int] | None = None  # (K, N): only part K of N of the inputs
    block_seconds: float = 10.0  # longer files are read and enhanced block by block
    streaming: bool = False  # real-time-sized blocks (block_seconds is then the block); needs a causal model
    log: str | Path | None = None  # per-file log, .csv or .json
    batch_size: int = 1  # short files enhanced this many at a time (causal models)
    out_rate: int | None = None  # output sample rate (default: the input's)
    out_subtype: str | None = None  # e.g. PCM_16, FLOAT (default: the input's where the container takes it)
    out_format: str | None = None  # output container, e.g. flac (default: the input's)
    jobs: int = 1  # files enhanced in parallel worker processes of one thread each (CPU)


def enhance_paths(
    inputs: list[str | Path],
    out_dir: str | Path,
    enhancer: Enhancer | str | Path,
    options: EnhanceOptions | None = None,
) -> EnhanceSummary:
    """Enhance every input; existing outputs are skipped unless `options.overwrite`; inputs are never written.

    `enhancer` is a loaded Enhancer (`load_enhancer`) or a model path or installed name. Files
    longer than a block go block by block; with batch_size > 1, shorter files are read whole and
    enhanced `batch_size` at a time (worth it on a GPU; on CPU it gains little). Batching needs a
    causal model (zero padding must not change the output); others go file by file.
    """
    options = options or EnhanceOptions()
    enhancer = enhancer if isinstance(enhancer, Enhancer) else load_enhancer(enhancer)
    out_format = options.out_format
    if options.streaming and not enhancer.causal:
        raise CmktError(
            f"--streaming: this model ({enhancer.meta.get('arch', 'unknown')}) is not causal, so it cannot run "
            f"block by block in real time (it would wait {enhancer.latency_ms / 1000:.0f} s); drop --streaming, "
            "or choose a causal model such as stft-mask-gru"
        )
    if options.jobs > 1 and (options.batch_size > 1 or enhancer.device.type != "cpu"):
        raise CmktError(
            f"--jobs {options.jobs} runs files in parallel CPU processes; drop it with --batch-size or a GPU --device"
        )
    if out_format and f".{out_format.lower()}" not in AUDIO_SUFFIXES:
        raise CmktError(f"--format {out_format}: choose one of {', '.join(s[1:] for s in AUDIO_SUFFIXES)}")
    plan = plan_inputs(inputs, out_dir, options.suffix, out_format.lower() if out_format else None)
    jobs = take_shard(plan.jobs, options.shard)
    summary = EnhanceSummary(
        latency_ms=enhancer.latency_ms, high_band_latency_ms=enhancer.high_band_latency_ms, notes=plan.notes
    )
    summary.rows.extend(FileLog(p.split(": ", 1)[0], "", "failed", error=p) for p in plan.problems)
    input_set = {p.resolve() for p, _ in jobs if p.exists()}
    seconds = {source: _header_seconds(source) for source, _ in jobs}
    started_ns = time.time_ns()
    try:
        with signals_as_exceptions():
            run = _run_parallel if options.jobs > 1 else _run_jobs
            run(jobs, seconds, enhancer, options, summary, input_set)
    except Interrupted as stop:  # the file in flight left no output (its temporary is removed); what is done is logged
        summary.interrupted = stop
        summary.rows = [
            row for row in summary.rows if row.status != "written" or _written_since(row, started_ns, seconds)
        ]
    if options.log:
        write_log(options.log, summary.rows)
    return summary


MADE_BY = (
    "enhanced by cmkt with "  # the comment every output carries (WAV INFO, FLAC/Ogg tags, ...): which model made it
)


def made_by(path: Path) -> str:
    """The model an earlier run recorded in an output's comment; "" where it recorded none."""
    try:
        with open_audio(path) as handle:
            comment = handle.comment or ""
    except CmktError:
        return ""
    return comment[len(MADE_BY) :] if comment.startswith(MADE_BY) else ""


def _run_jobs(
    jobs: list[tuple[Path, Path]],
    seconds: dict[Path, float],
    enhancer: Enhancer,
    options: EnhanceOptions,
    summary: EnhanceSummary,
    input_set: set[Path],
) -> None:
    """The enhancement loop of `enhance_paths`; every finished file's row is in `summary` as soon as it is written."""
    comment = MADE_BY + enhancer.identity
    overwrite, block_seconds, batch_size = options.overwrite, options.block_seconds, options.batch_size
    out_rate, out_subtype = options.out_rate, options.out_subtype
    batch: list[tuple[FileLog, Audio]] = []

    def run_batch() -> None:
        start = time.perf_counter()
        outputs = enhance_clips(enhancer, [(audio.samples, audio.sample_rate) for _, audio in batch])
        share = (time.perf_counter() - start) / len(batch)
        for (row, audio), enhanced in zip(batch, outputs):
            try:
                rate = out_rate or audio.sample_rate
                subtype = output_subtype(row.output, audio.subtype, out_subtype)
                write_audio(row.output, resample(enhanced, audio.sample_rate, rate), rate, subtype, comment=comment)
                row.duration_s, row.compute_s = audio.duration_s, share
                row.rtf = share / audio.duration_s
            except CmktError as exc:
                row.status, row.error = "failed", str(exc)
        batch.clear()

    with progress_bar(unit="s of audio") as bar:  # moves as audio is done, within long files too
        task = bar.add_task("enhancing", total=sum(seconds.values()) or 1.0, status="")
        done = 0.0
        for index, (source, target) in enumerate(jobs, 1):
            raise_if_stopped()
            bar.update(task, completed=done, status=f"file {index}/{len(jobs)} {source.name[:30]}")
            # "written" until it fails or is skipped; on a signal, kept only if written
            row = FileLog(str(source), str(target), "written", model=enhancer.identity)
            summary.rows.append(row)
            try:
                if _to_enhance(row, source, target, enhancer, overwrite, summary, input_set):
                    # an unreadable file has 0 header seconds and fails on read
                    if batch_size > 1 and enhancer.causal and seconds[source] <= block_seconds:
                        batch.append((row, read_audio(source)))
                        if len(batch) == batch_size:
                            run_batch()
                    else:
                        result = enhance_file(
                            enhancer,
                            source,
                            target,
                            block_seconds,
                            out_rate,
                            out_subtype,
                            on_block=lambda s: bar.advance(task, s),
                            comment=comment,
                        )
                        row.duration_s, row.compute_s = result.duration_s, result.compute_s
                        row.rtf = result.compute_s / result.duration_s
                    summary.notes.extend(filter(None, [truncation_note(source)]))
            except CmktError as exc:
                row.status, row.error = "failed", str(exc)
            done += seconds[source]
        if batch:
            run_batch()
        bar.update(task, completed=done)
