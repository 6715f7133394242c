"""`cmkt prep`: speech + noise -> per-split manifests, mixtures at chosen SNRs, teacher cache."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cmkt.audio import read_audio, write_audio
from cmkt.data.corpus import SPLITS, hash_split, load_noise_folders, load_speech_corpus
from cmkt.data.mixing import mix_at_snr
from cmkt.errors import CmktError
from cmkt.files import write_text_atomic
from cmkt.manifest import Utterance, write_manifest
from cmkt.progress import progress_bar


@dataclass
class PrepConfig:
    speech: str
    noise: str
    out: str
    snrs: list[float] = field(default_factory=lambda: [0.0, 5.0, 10.0])
    teacher: str | None = "all-MiniLM-L6-v2"
    sample_rate: int = 16000
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_key: str = "id"  # "id" or "text": the latter keeps every take of a sentence in one split
    max_duration_s: float = 20.0
    seed: int = 0


@dataclass
class PrepReport:
    manifests: dict[str, Path]
    counts: dict[str, int]
    hours: dict[str, float]
    with_text: dict[str, int]
    cache: Path | None
    skipped: list[str]
    notes: list[str] = field(default_factory=list)


def _utterance_rng(seed: int, utt_id: str) -> np.random.Generator:
    digest = hashlib.sha1(f"{seed}:{utt_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def mixing_fingerprint(config: PrepConfig) -> str:
    """What decides the mixtures' content: the same fingerprint means an existing mixture is still right."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("out", "teacher")}
    settings["speech"], settings["noise"] = str(Path(config.speech).resolve()), str(Path(config.noise).resolve())
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def prepare(config: PrepConfig) -> PrepReport:
    """Write mixtures and manifests (and the teacher cache) under `config.out`.

    A rerun with the same settings keeps the mixtures already written (each appears atomically,
    so an existing one is complete) and computes only what is missing; other settings rewrite all.
    """
    out = Path(config.out)
    items = load_speech_corpus(config.speech)
    noises = load_noise_folders(config.noise)
    if not config.snrs:
        raise CmktError("no SNR given; pass at least one --snr value")
    noise_cache: dict[Path, np.ndarray] = {}
    by_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    skipped: list[str] = []
    max_len = int(config.max_duration_s * config.sample_rate)
    state_path = out / ".prep_state.json"
    fingerprint = mixing_fingerprint(config)
    reuse = state_path.is_file() and json.loads(state_path.read_text(encoding="utf-8")).get("fingerprint") == fingerprint
    write_text_atomic(state_path, json.dumps({"fingerprint": fingerprint}))
    with progress_bar() as bar:
        task = bar.add_task("mixing", total=len(items), status="")
        for item in items:
            bar.update(task, advance=1, status=item.id[:30])
            split = item.split or hash_split(item.text if config.split_key == "text" and item.text else item.id, config.split_fractions)
            rng = _utterance_rng(config.seed, item.id)
            try:
                clean = read_audio(item.path, sample_rate=config.sample_rate, mono=True).samples[0]
            except CmktError as exc:
                skipped.append(str(exc))
                continue
            if len(clean) > max_len:
                start = int(rng.integers(0, len(clean) - max_len + 1))
                clean, text = clean[start : start + max_len], ""  # a crop no longer matches its transcript
            else:
                text = item.text
            noise_path = noises[split][int(rng.integers(0, len(noises[split])))]
            if noise_path not in noise_cache:
                noise_cache[noise_path] = read_audio(noise_path, sample_rate=config.sample_rate, mono=True).samples[0]
            snr = float(config.snrs[int(rng.integers(0, len(config.snrs)))])
            try:
                clean, noisy = mix_at_snr(clean, noise_cache[noise_path], snr, config.sample_rate, rng)
            except ValueError:
                skipped.append(f"{item.path}: silent audio, cannot mix at an SNR; remove the file")
                continue
            clean_rel, noisy_rel = Path(split, "clean", f"{item.id}.wav"), Path(split, "noisy", f"{item.id}.wav")
            if not (reuse and (out / clean_rel).is_file() and (out / noisy_rel).is_file()):
                write_audio(out / clean_rel, clean, config.sample_rate, "PCM_16")
                write_audio(out / noisy_rel, noisy, config.sample_rate, "PCM_16")
            by_split[split].append(
                Utterance(
                    id=item.id, clean=str(clean_rel), noisy=str(noisy_rel), text=text, split=split, lang=item.lang,
                    speaker=item.speaker, noise=noise_path.stem, snr_db=snr,
                    duration_s=round(len(clean) / config.sample_rate, 3), sample_rate=config.sample_rate,
                )
            )
    manifests = {}
    for split, utterances in by_split.items():
        if utterances:
            manifests[split] = out / f"{split}.jsonl"
            write_manifest(manifests[split], utterances)
    cache, notes = None, []
    if config.teacher and config.teacher.lower() != "none":
        cache, notes = build_teacher_cache(out / "teacher_cache", config.teacher, [u.text for us in by_split.values() for u in us])
    return PrepReport(
        manifests=manifests,
        counts={s: len(u) for s, u in by_split.items()},
        hours={s: sum(x.duration_s for x in u) / 3600 for s, u in by_split.items()},
        with_text={s: sum(bool(x.text) for x in u) for s, u in by_split.items()},
        cache=cache,
        skipped=skipped,
        notes=notes,
    )


def build_teacher_cache(root: Path, teacher_name: str, texts: list[str]) -> tuple[Path, list[str]]:
    """Load the teacher (only here, never at inference) and cache what is missing; returns the
    folder and notes on transcripts the teacher could not take whole."""
    from cmkt.teachers.cache import build_cache
    from cmkt.teachers.lm import LMTeacher

    teacher = LMTeacher(teacher_name)
    with progress_bar() as bar:
        task = bar.add_task("teacher cache", total=1, status=teacher_name)
        folder = build_cache(root, teacher, texts, on_progress=lambda done, total: bar.update(task, completed=done, total=max(1, total)))
        bar.update(task, completed=bar.tasks[0].total)
    return folder, teacher.notes
