"""`cmkt prep`: speech + noise -> per-split manifests, mixtures at chosen SNRs, teacher cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path

import numpy as np

from cmkt.audio import Audio, read_audio, resample, write_audio
from cmkt.data.corpus import SPLITS, SpeechItem, hash_split, unreadable_noise
from cmkt.data.layouts import load_corpus
from cmkt.data.mixing import MIXING_FILE, Mixer
from cmkt.data.validate import PAIR_TOLERANCE_S
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_text_atomic
from cmkt.data.manifest import Utterance, write_manifest
from cmkt.util.progress import progress_bar
from cmkt.evaluation.report import plot_snr_histogram
from cmkt.util.sharding import take_shard


@dataclass
class PrepConfig:
    speech: str
    noise: str | None
    out: str
    _: KW_ONLY  # the rest by name: adding a field can never shift another's value
    snrs: list[float] = field(default_factory=lambda: [0.0, 5.0, 10.0])
    teacher: str | None = "all-MiniLM-L6-v2"
    sample_rate: int = 16000
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_key: str = "id"  # "id" or "text": the latter keeps every take of a sentence in one split
    max_duration_s: float = 20.0
    seed: int = 0
    layout: str = "auto"
    snr_range: tuple[float, float] | None = None  # uniform in [lo, hi] instead of the snrs list
    gain_db: tuple[float, float] | None = None  # random level of the whole mixture
    rir: str | None = None  # folder of room impulse responses
    rir_prob: float = 0.5
    shard: tuple[int, int] | None = None


@dataclass
class PrepReport:
    manifests: dict[str, Path]
    counts: dict[str, int]
    hours: dict[str, float]
    with_text: dict[str, int]
    cache: Path | None
    skipped: list[str]
    notes: list[str] = field(default_factory=list)
    speakers: dict[str, int] = field(default_factory=dict)
    languages: dict[str, list[str]] = field(default_factory=dict)
    snr_plot: Path | None = None


def _utterance_rng(seed: int, utt_id: str) -> np.random.Generator:
    digest = hashlib.sha1(f"{seed}:{utt_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def mixing_fingerprint(config: PrepConfig) -> str:
    """What decides the mixtures' content: the same fingerprint means an existing mixture is still right."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("out", "teacher", "shard")}
    for key in ("speech", "noise", "rir"):
        settings[key] = str(Path(settings[key]).resolve()) if settings[key] else None
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def manifest_name(split: str, shard: tuple[int, int] | None) -> str:
    return f"{split}.jsonl" if shard is None else f"{split}.shard-{shard[0]}-of-{shard[1]}.jsonl"


def prepare(config: PrepConfig, check: bool = False, resume: bool = True) -> PrepReport:
    """Write mixtures and manifests (and the teacher cache) under `config.out`.

    A rerun with the same settings keeps the mixtures already written (each appears atomically,
    so an existing one is complete) and computes only what is missing; other settings rewrite all.
    With `shard` = (K, N) only every N-th utterance from the K-th is done, into shard manifests
    that `merge_shards` joins. With `check`, every file is read and mixed but nothing is written.
    """
    out = Path(config.out)
    items = take_shard(sorted(load_corpus(config.speech, config.layout), key=lambda item: item.id), config.shard)
    mixer = Mixer(config) if config.noise or any(item.noisy is None for item in items) else None
    bad_noise = unreadable_noise(mixer.noises) if mixer is not None and mixer.noises else []
    if bad_noise:  # every one named at once, before any mixing: a run would otherwise stop at the first
        raise CmktError(f"{len(bad_noise)} unreadable noise file(s), fix or remove them: " + " | ".join(bad_noise))
    by_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    skipped: list[str] = []
    state_path = out / (".prep_state.json" if config.shard is None else f".prep_state.shard-{config.shard[0]}.json")
    fingerprint = mixing_fingerprint(config)
    reuse = (
        resume
        and state_path.is_file()
        and json.loads(state_path.read_text(encoding="utf-8")).get("fingerprint") == fingerprint
    )
    if not check:
        write_text_atomic(state_path, json.dumps({"fingerprint": fingerprint}))
        write_text_atomic(
            out / MIXING_FILE,
            json.dumps({k: v for k, v in asdict(config).items() if k not in ("shard", "teacher")}, indent=1),
        )
    with progress_bar() as bar:
        task = bar.add_task("mixing", total=len(items), status="")
        for item in items:
            bar.update(task, advance=1, status=item.id[:30])
            split = item.split or hash_split(
                item.text if config.split_key == "text" and item.text else item.id, config.split_fractions
            )
            try:
                by_split[split].append(prepare_utterance(item, split, config, mixer, None if check else out, reuse))
            except SkippedItem as exc:
                skipped.append(str(exc))
    return _finish(config, by_split, skipped, check)


class SkippedItem(Exception):
    """An utterance left out of the manifests; its message is the one line that says why and what to do."""


def prepare_utterance(
    item: SpeechItem, split: str, config: PrepConfig, mixer: Mixer | None, out: Path | None, reuse: bool
) -> Utterance:
    """One corpus item as a clean/noisy pair at the prepared rate, written under `out` (None: checked only).

    `reuse` keeps a pair a previous run with the same settings already wrote."""
    rng = _utterance_rng(config.seed, item.id)
    try:
        source = read_audio(item.path)
        clean = to_model_audio(source, config.sample_rate)
        given_noisy = to_model_audio(read_audio(item.noisy), config.sample_rate) if item.noisy else None
    except CmktError as exc:
        raise SkippedItem(str(exc)) from None
    if given_noisy is not None and abs(len(given_noisy) - len(clean)) > PAIR_TOLERANCE_S * config.sample_rate:
        raise SkippedItem(
            f"{item.noisy}: {abs(len(given_noisy) - len(clean)) / config.sample_rate:.2f} s longer or shorter "
            f"than its clean file {item.path}; the pair does not match, fix or remove it"
        )
    text, max_len = item.text, int(config.max_duration_s * config.sample_rate)
    if len(clean) > max_len:
        start = int(rng.integers(0, len(clean) - max_len + 1))
        clean, text = clean[start : start + max_len], ""  # a crop no longer matches its transcript
        given_noisy = given_noisy[start : start + max_len] if given_noisy is not None else None
    drawn: dict = {"noise": "", "snr_db": None}
    if given_noisy is not None:
        length = min(len(clean), len(given_noisy))
        clean, noisy = clean[:length], given_noisy[:length]
    else:
        try:
            clean, noisy, drawn = mixer.mix(clean, split, rng)
        except ValueError:
            raise SkippedItem(
                f"{item.path}: silent audio, cannot mix at an SNR (or the noise drawn for it is silent over "
                "its length); remove the file, or the silent stretch of the noise"
            ) from None
    clean_rel, noisy_rel = Path(split, "clean", f"{item.id}.wav"), Path(split, "noisy", f"{item.id}.wav")
    if out is not None and not (reuse and (out / clean_rel).is_file() and (out / noisy_rel).is_file()):
        write_audio(out / clean_rel, clean, config.sample_rate, "PCM_16")
        write_audio(out / noisy_rel, noisy, config.sample_rate, "PCM_16")
    extra = {k: v for k, v in drawn.items() if k in ("gain_db", "rir") and v}
    if source.sample_rate != config.sample_rate or source.samples.shape[0] > 1:
        extra.update(source_rate=source.sample_rate, source_channels=int(source.samples.shape[0]))
    return Utterance(
        id=item.id,
        clean=str(clean_rel),
        noisy=str(noisy_rel),
        text=text,
        split=split,
        lang=item.lang,
        speaker=item.speaker,
        noise=drawn["noise"],
        snr_db=drawn["snr_db"],
        duration_s=round(len(clean) / config.sample_rate, 3),
        sample_rate=config.sample_rate,
        extra=extra,
    )


def _finish(config: PrepConfig, by_split: dict[str, list[Utterance]], skipped: list[str], check: bool) -> PrepReport:
    """The manifests, the teacher cache and the SNR histogram of what was prepared, and its report."""
    out = Path(config.out)
    cache, notes = None, []
    if config.teacher and config.teacher.lower() != "none":
        everyone = [u for us in by_split.values() for u in us]
        cache, notes, counts = build_teacher_cache(out / "teacher_cache", config.teacher, [u.text for u in everyone])
        notes += record_teacher_coverage(everyone, counts)
    manifests = {}
    for split, utterances in by_split.items():
        if utterances and not check:
            manifests[split] = out / manifest_name(split, config.shard)
            write_manifest(manifests[split], utterances)
    if by_split["train"] and not by_split["valid"] and not check:
        notes.append(
            f"no valid split: all {sum(len(us) for us in by_split.values())} utterance(s) went to other splits; "
            "`cmkt train` needs valid.jsonl: give more utterances, a split column (valid), or other split fractions"
        )
    without_text = sum(1 for us in by_split.values() for u in us if not u.text)
    if without_text:
        notes.append(
            f"{without_text} utterance(s) have no transcript (none given, or cropped); they get no distillation loss"
        )
    snrs = {s: [u.snr_db for u in us if u.snr_db is not None] for s, us in by_split.items()}
    snr_plot = None
    if any(snrs.values()) and not check:
        snr_plot = out / ("snr_histogram.png" if config.shard is None else f"snr_histogram.shard-{config.shard[0]}.png")
        plot_snr_histogram(snr_plot, snrs)
    return PrepReport(
        manifests=manifests,
        cache=cache,
        skipped=skipped,
        notes=notes,
        snr_plot=snr_plot,
        counts={s: len(u) for s, u in by_split.items()},
        hours={s: sum(x.duration_s for x in u) / 3600 for s, u in by_split.items()},
        with_text={s: sum(bool(x.text) for x in u) for s, u in by_split.items()},
        speakers={s: len({x.speaker for x in u if x.speaker}) for s, u in by_split.items()},
        languages={s: sorted({x.lang for x in u if x.lang}) for s, u in by_split.items()},
    )


def to_model_audio(audio: Audio, sample_rate: int) -> np.ndarray:
    """Down-mixed and resampled to the rate everything is prepared at."""
    samples = audio.samples.mean(axis=0) if audio.samples.shape[0] > 1 else audio.samples[0]
    return resample(samples[None, :], audio.sample_rate, sample_rate)[0]


def record_teacher_coverage(utterances: list[Utterance], counts: dict[str, tuple[int, int]]) -> list[str]:
    """Write each utterance's teacher tokens and [UNK] tokens into its manifest row (`extra`), and
    return a note of the teacher's coverage per language: tokens per word and the [UNK] share.
    An English wordpiece teacher rarely says [UNK] (it spells Cyrillic letter by letter), so many
    tokens per word is the sign of a language it cannot read; results by language are read against it."""
    per_lang: dict[str, list[int]] = {}
    for u in utterances:
        if u.text and u.text in counts:
            tokens, unknown = counts[u.text]
            u.extra.update(teacher_tokens=tokens, teacher_unknown=unknown)
            totals = per_lang.setdefault(u.lang or "?", [0, 0, 0])
            for index, value in enumerate((len(u.text.split()), tokens, unknown)):
                totals[index] += value
    if not per_lang:
        return []
    listed = "; ".join(
        f"{lang} {tokens / max(words, 1):.1f}, {unknown / max(tokens, 1):.0%}"
        for lang, (words, tokens, unknown) in sorted(per_lang.items())
    )
    return [f"teacher coverage by language (tokens per word, [UNK] share): {listed}"]


def build_teacher_cache(root: Path, teacher_name: str, texts: list[str]) -> tuple[Path, list[str], dict]:
    """Load the teacher (only here, never at inference) and cache what is missing; returns the
    folder, notes on transcripts the teacher could not take whole, and text -> (tokens, unknown)."""
    from cmkt.teachers.cache import build_cache
    from cmkt.teachers.lm import LMTeacher

    teacher = LMTeacher(teacher_name)
    with progress_bar() as bar:
        task = bar.add_task("teacher cache", total=1, status=teacher_name)
        folder = build_cache(
            root, teacher, texts, on_progress=lambda done, total: bar.update(task, completed=done, total=max(1, total))
        )
        bar.update(task, completed=bar.tasks[0].total)
    texts = sorted({t for t in texts if t})
    return folder, teacher.notes, dict(zip(texts, teacher.token_counts(texts)))
