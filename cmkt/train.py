"""`cmkt train`: an SE backbone with the LM-embedding teacher, L = a*L_se + (1-a)*L_cma.

Deterministic by construction: the batch order of epoch e and the misalignment shifts of step
k are drawn from generators seeded by (seed, e) and (seed, k), so `--resume` after a kill
continues exactly as if the run had never stopped. `teacher="none"` is the baseline with
everything else identical (same init, same batches).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from cmkt.data.dataset import SEDataset, StepBatches, to_device
from cmkt.data.mixing import load_mixer
from cmkt.data.validate import validate_manifest
from cmkt.distributed import agree, average_gradients, finish, global_mean, global_scales, pad_to_global_length, rank_and_size
from cmkt.distill.alignment import build_bridge
from cmkt.distill.bridge import FrameProjection
from cmkt.distill.losses import cosine_distill_loss, enhancement_loss, normaliser_counts, parse_loss
from cmkt.distill.shift import temporal_shift
from cmkt.util.devices import resolve_device
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_csv_atomic, write_text_atomic
from cmkt.evaluation.metrics import score_signals
from cmkt.util.progress import console, progress_bar
from cmkt.training.config import (DEFAULT_ARCHITECTURE, DEFAULT_LOSS, DEFAULT_SELECT, RUNTIME_SETTINGS, TrainConfig,  # noqa: F401 (TrainConfig: public here too)
                                  legacy_settings)
from cmkt.registry import (ARCHITECTURES, build_model, load_payload, read_checkpoint, resolve_model,
                           save_checkpoint, save_torch)

LOG_FIELDS = ["step", "loss", "l_se", "l_cma", "l_ssl", "unmatched", "val_pesq_wb", "val_stoi", "seconds"]


VALIDATION_METRICS = ("pesq_wb", "stoi")


def parse_select(spec: str) -> dict[str, float]:
    """`--select`: the validation metrics, weighted, whose sum picks the kept checkpoint."""
    from cmkt.util.weighted_terms import parse_weighted_terms

    return parse_weighted_terms(spec, VALIDATION_METRICS, "--select", "pesq_wb=1,stoi=4")


def selection_score(row: dict, weights: dict[str, float]) -> float:
    """The weighted sum of a validation row's metrics (keys val_NAME): higher is better."""
    return sum(weight * float(row[f"val_{name}"]) for name, weight in weights.items())


def resolve_cache(config: TrainConfig):
    """The teacher cache to distil from, or None for the baseline."""
    if config.teacher.lower() == "none":
        return None
    from cmkt.teachers.cache import EmbeddingCache  # reads numpy shards only; no LM is loaded

    if config.teacher != "auto":
        return EmbeddingCache(config.teacher)
    root = Path(config.train_manifest).parent / "teacher_cache"
    folders = sorted(p for p in root.glob("*") if (p / "index.json").is_file()) if root.is_dir() else []
    if len(folders) != 1:
        raise CmktError(f"{root}: expected one teacher cache, found {len(folders)}; pass --teacher CACHE_FOLDER or --teacher none")
    return EmbeddingCache(folders[0])


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def starting_weights(config: TrainConfig) -> dict | None:
    """The weights `--init` names, or None for a random start; the backbone and its settings come from them.

    Fine-tuning the shipped model on a user's own noise needs far fewer steps than training anew,
    which is what makes it feasible on a CPU. The distillation bridge always starts fresh: an
    inference checkpoint carries none."""
    if not config.init:
        return None
    path = resolve_model(config.init)
    payload = read_checkpoint(path)
    growable = ARCHITECTURES[payload["arch"]].model.growth_settings if payload["arch"] in ARCHITECTURES else ()
    conflicting = {k: v for k, v in config.model.items() if payload["config"].get(k, v) != v and k not in growable}
    if (config.arch not in (DEFAULT_ARCHITECTURE, payload["arch"])) or conflicting:
        raise CmktError(f"--init {config.init}: it is a {payload['arch']} with {payload['config']}, not --arch {config.arch} "
                        f"--model-config {json.dumps(config.model)}; drop --arch/--model-config when fine-tuning"
                        + (f" (only {', '.join(growable)} may be added)" if growable else ""))
    config.arch, config.model = payload["arch"], {**payload["config"], **config.model}
    return payload["state_dict"]


def load_starting_weights(model: torch.nn.Module, weights: dict) -> None:
    """Load `--init` weights; parameters a growth setting added (absent from them) keep their zero start,
    so the grown model begins by enhancing exactly as the one it grew from."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    current = model.state_dict()
    not_zero = [k for k in missing if current[k].any()]
    if unexpected or not_zero:
        raise CmktError(f"--init: its weights do not fit this model (missing {not_zero[:3]}, unexpected {unexpected[:3]}); "
                        "drop --model-config when fine-tuning")


def validate(model: torch.nn.Module, dataset: SEDataset, items: int) -> dict[str, float]:
    """Mean PESQ-WB and STOI on a fixed subset spread evenly over the validation set (every language, speaker, SNR)."""
    model.eval()
    device = next(model.parameters()).device
    pesq_scores, stoi_scores = [], []
    with torch.inference_mode():
        for index in np.linspace(0, len(dataset) - 1, min(items, len(dataset))).round().astype(int):
            item = dataset[int(index)]
            enhanced, _ = model(item["noisy"][None].to(device))
            scores = score_signals(item["clean"].numpy(), enhanced[0].cpu().numpy(), dataset.sample_rate, ("pesq_wb", "stoi"))
            pesq_scores.append(scores["pesq_wb"])
            stoi_scores.append(scores["stoi"])
    model.train()
    return {"val_pesq_wb": float(np.mean(pesq_scores)), "val_stoi": float(np.mean(stoi_scores))}


def batch_losses(
    model: torch.nn.Module, bridge: FrameProjection | None, batch: dict, alpha: float, max_shift: int, shift_prob: float,
    generator: torch.Generator | None = None, loss_weights: dict[str, float] | None = None, share: tuple[int, int] = (0, 1),
    ssl: tuple | None = None, ssl_weight: float = 0.5, sample_rate: int = 16000, scales: dict[str, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, L_se, L_cma) of one batch: L = alpha L_se + (1 - alpha) L_kd.

    L_kd is L_cma (language-model teacher through the bridge), L_ssl (an SSL teacher, `ssl` =
    (SSLTeacher, SSLHead); its value is kept in head.last_loss), or with both
    (1 - ssl_weight) L_cma + ssl_weight L_ssl. Without any teacher (baseline) L = L_se. `scales`
    (from `loss_counts` and distributed.global_scales) weights each term to this rank's share.
    """
    scales = scales or {}
    enhanced, tap = model(batch["noisy"])
    l_se = enhancement_loss(enhanced, batch["clean"], batch["lengths"], loss_weights or parse_loss(DEFAULT_LOSS), sample_rate=sample_rate,
                            scales=scales)
    l_cma = torch.zeros((), device=enhanced.device)
    if bridge is None and ssl is None:
        return l_se, l_se, l_cma
    terms = []
    if bridge is not None and batch["token_mask"].any():
        frame_mask = torch.arange(tap.shape[1], device=tap.device)[None, :] * model.tap_hop < batch["lengths"][:, None]
        shifted, frame_mask = temporal_shift(tap, frame_mask, max_shift, shift_prob, generator, share)
        predicted, _ = bridge(shifted, frame_mask, batch["token_mask"], batch["tokens"])
        l_cma = cosine_distill_loss(predicted, batch["tokens"], batch["token_mask"]) * scales.get("cma", 1.0)
        terms.append((1 - ssl_weight if ssl is not None else 1.0, l_cma))
    if ssl is not None:  # frame-synchronous with the clean speech: no misalignment shift
        teacher, head = ssl
        targets, mask = teacher(batch["clean"], batch["lengths"])
        l_ssl = head.loss(tap, targets, mask) * scales.get("ssl", 1.0)
        head.last_loss = float(l_ssl.detach())
        terms.append((ssl_weight if bridge is not None else 1.0, l_ssl))
    l_kd = sum(weight * value for weight, value in terms) if terms else torch.zeros((), device=enhanced.device)
    return alpha * l_se + (1 - alpha) * l_kd, l_se, l_cma


def loss_counts(batch: dict, loss_weights: dict[str, float], distilling: bool, ssl: tuple | None) -> dict[str, float]:
    """What each loss term of this batch averages over: the enhancement terms' frames, samples or
    items, the bridge's tokens, the SSL teacher's frames (for distributed.global_scales)."""
    counts = normaliser_counts(batch["lengths"], loss_weights)
    if distilling:
        counts["cma"] = float(batch["token_mask"].sum())
    if ssl is not None:
        counts["ssl"] = float(ssl[0].frame_lengths(batch["lengths"]).sum())
    return counts


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train; returns the path of the best inference checkpoint (model.pt in the run folder)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)  # tiny activations late in training otherwise slow CPU steps ~1.6x
    loss_weights = parse_loss(config.loss)
    select = parse_select(config.select)
    rank, world = rank_and_size()
    if config.batch_size % world:
        raise CmktError(f"--batch-size {config.batch_size} must be a multiple of the {world} processes (the global batch is split)")
    out = Path(config.out)
    state_path, best_path, log_path = out / "checkpoint.pt", out / "model.pt", out / "train_log.csv"
    for manifest in (config.train_manifest, config.valid_manifest):  # headers only: seconds, not hours
        problems = validate_manifest(manifest, read_samples=False)
        if problems:
            raise CmktError(f"{len(problems)} problem(s) in {manifest}, first: {problems[0]} "
                            f"(`cmkt prep --check --speech {manifest}` lists them all)")
    cache = resolve_cache(config)
    device = resolve_device(config.device)
    init_weights = starting_weights(config)
    torch.manual_seed(config.seed)
    model = build_model(config.arch, config.model)
    if init_weights is not None:
        load_starting_weights(model, init_weights)
    bridge = (build_bridge(config.align, model.tap_dim, cache.dim, config.ot_eps, config.ot_tau, config.ot_delta, config.bridge_stride)
              if cache is not None else None)
    ssl = None
    if config.ssl_teacher:
        from cmkt.teachers.ssl import SSLHead, SSLSpec, SSLTeacher

        spec = SSLSpec.read(config.ssl_teacher)
        teacher = SSLTeacher(spec)
        ssl = (teacher, SSLHead(model.tap_dim, teacher.dims, spec.layer_weights))
    model.to(device)
    if bridge is not None:
        bridge.to(device)
    if ssl is not None:
        ssl[0].to(device)
        ssl[1].to(device)
    params = list(model.parameters()) + (list(bridge.parameters()) if bridge else []) + (list(ssl[1].parameters()) if ssl else [])
    optimizer = torch.optim.Adam(params, lr=learning_rate(config, 0))
    sample_rate = model.config.sample_rate
    mixer = load_mixer(Path(config.train_manifest).parent, config.augment, config.rirs) if config.dynamic_mixing else None
    train_set = SEDataset(config.train_manifest, sample_rate, config.max_seconds, cache, config.seed, mixer)
    valid_set = SEDataset(config.valid_manifest, sample_rate, config.max_seconds * 4, cache, config.seed)
    step, best, rows = 0, -math.inf, []
    if resume and state_path.is_file():
        state = load_payload(state_path)  # never runs code from the file
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
        saved = {**defaults, **legacy_settings(state["config"])}  # an older cmkt's run lacks the newer settings: it used their defaults
        same = ({k: v for k, v in saved.items() if k not in RUNTIME_SETTINGS}
                == {k: v for k, v in dataclasses.asdict(config).items() if k not in RUNTIME_SETTINGS})
        if not same:
            raise CmktError(f"{state_path}: run was started with other settings; resume with the same flags or use a new --out")
        model.load_state_dict(state["model"])
        if bridge:
            try:
                bridge.load_state_dict(state["bridge"])
            except RuntimeError:
                raise CmktError(f"{state_path}: its bridge was built by another cmkt version; resume it with that version "
                                "or start a new --out (the inference model.pt is unaffected)") from None
        if ssl:
            ssl[1].load_state_dict(state["ssl_head"])
        optimizer.load_state_dict(state["optimizer"])
        step, best, rows = state["step"], state["best"], state["rows"]
        console.print(f"resuming {out} at step {step}")
    elif not resume and state_path.exists():
        raise CmktError(f"{out}: already holds a run; pass --resume to continue it or choose a new --out")
    lead = rank == 0  # only rank 0 validates, writes and draws
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.json", json.dumps(dataclasses.asdict(config), indent=2))
    data_hash = file_hash(config.train_manifest)
    frames_per_shift = int(round(config.shift_ms / 1000 * model.frame_rate))
    batches = torch.utils.data.DataLoader(
        StepBatches(train_set, config.batch_size, config.seed, (rank, world)), batch_size=None, sampler=range(step, config.steps),
        num_workers=config.workers, pin_memory=device.type == "cuda", prefetch_factor=4 if config.workers else None)
    model.train()
    forward_model = compiled(model) if config.compile else model
    started = time.perf_counter() - elapsed_before(rows)  # "seconds" runs on across --resume
    interval: list[tuple[float, float, float]] = []  # the steps since the last logged row: a row logs their mean
    with progress_bar(disable=not lead) as bar:
        task = bar.add_task("training" if bridge or ssl else "training (baseline)", total=config.steps, completed=step, status="")
        for batch in batches:
            batch = to_device(pad_to_global_length(batch, world), device)
            shift_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            scales = global_scales(loss_counts(batch, loss_weights, bridge is not None, ssl), world) if world > 1 else None
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.amp):
                loss, l_se, l_cma = batch_losses(forward_model, bridge, batch, config.alpha, frames_per_shift, config.shift_prob,
                                                 shift_gen, loss_weights, (rank, world), ssl, config.ssl_weight, sample_rate, scales)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(params, world)
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            optimizer.step()
            step += 1
            interval.append(tuple(global_mean([loss.item(), l_se.item(), l_cma.item()], world)))  # the global batch's losses
            means = np.mean(interval, axis=0)
            row = {"step": step, "loss": round(float(means[0]), 5), "l_se": round(float(means[1]), 5), "l_cma": round(float(means[2]), 5),
                   "unmatched": round(bridge.last_unmatched, 4) if bridge is not None and config.align in ("uot", "tot") else "",
                   "l_ssl": round(ssl[1].last_loss, 5) if ssl else ""}
            bar.update(task, completed=step, status=f"loss {row['loss']:.4f}")
            if (step % config.valid_every == 0 or step == config.steps) and not lead:
                if agree(False, world):
                    break
            elif step % config.valid_every == 0 or step == config.steps:
                scores = validate(model, valid_set, config.valid_items)
                row.update({k: round(v, 4) for k, v in scores.items()}, seconds=round(time.perf_counter() - started, 1))
                score = selection_score(scores, select)
                if score > best:
                    best = score
                    save_checkpoint(best_path, model, config.arch, steps=step, train_data=data_hash, metrics=scores,
                                    teacher=("none" if cache is None else cache.index.get("teacher", "")), alpha=config.alpha,
                                    init=config.init)
                rows.append(row)
                interval.clear()
                _save_state(state_path, model, bridge, optimizer, step, best, rows, config, ssl[1] if ssl else None)
                write_csv_atomic(log_path, LOG_FIELDS, rows)
                if bridge is not None:
                    save_alignment_picture(out / "alignment.png", model, bridge, valid_set, f"{config.align}, step {step}")
                if agree(bool(config.patience) and validations_since_best(rows, select) >= config.patience, world):
                    console.print(f"early stop at step {step}: no better validation {config.select} in {config.patience} validations")
                    break
                bar.update(task, status=f"loss {row['loss']:.4f} val PESQ {scores['val_pesq_wb']:.3f}")
            elif step % 10 == 0:
                rows.append(row)
                interval.clear()
    if lead:
        from cmkt.evaluation.report import plot_training_curves

        plot_training_curves(log_path, out / "training_curves.png")
    finish(world)
    return best_path


def elapsed_before(rows: list[dict]) -> float:
    """Training seconds a resumed run had already spent (its last validation row's clock), 0 for a new run."""
    clocks = [float(r["seconds"]) for r in rows if r.get("seconds") not in (None, "")]
    return clocks[-1] if clocks else 0.0


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """torch.compile'd forward that still answers the model's attributes (tap_hop, frame_rate, ...)."""
    fast = torch.compile(model, dynamic=True)  # batches differ in length: one graph for all

    class Compiled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, wave):
            return fast(wave)

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(model, name)

    return Compiled()


def learning_rate(config: TrainConfig, step: int) -> float:
    """The step's learning rate: constant, or cosine decay from lr to lr/10 over config.steps."""
    if config.lr_decay == "none":  # TrainConfig allows only none and cosine
        return config.lr
    progress = min(1.0, step / max(1, config.steps))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def validations_since_best(rows: list[dict], select: dict[str, float] | None = None) -> int:
    """How many validations came after the best one by `select` (derived from the log, so --resume agrees)."""
    select = select or parse_select(DEFAULT_SELECT)
    scores = [selection_score(r, select) for r in rows if r.get("val_pesq_wb") not in (None, "")]
    return len(scores) - 1 - max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0


def save_alignment_picture(path: Path, model, bridge, dataset: SEDataset, title: str) -> None:
    """The bridge's frame-to-token alignment for the first validation utterance that has text."""
    from cmkt.evaluation.report import plot_alignment

    index = next((i for i, utt in enumerate(dataset.utterances) if utt.text and dataset.cache is not None), None)
    item = dataset[index] if index is not None else None
    if item is None or item["tokens"] is None:
        return
    was_training = model.training
    model.eval()
    bridge.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        _, tap = model(item["noisy"][None].to(device))
        tokens = item["tokens"][None].to(device)
        _, weights = bridge(tap, torch.ones(tap.shape[:2], dtype=torch.bool, device=device),
                            torch.ones(tokens.shape[:2], dtype=torch.bool, device=device), tokens)
    model.train(was_training)
    bridge.train(was_training)
    plot_alignment(path, weights[0].cpu().numpy(), model.frame_rate / bridge.stride, f"{title}: {dataset.utterances[index].id}")


def _save_state(path: Path, model, bridge, optimizer, step: int, best: float, rows: list[dict], config: TrainConfig, ssl_head=None) -> None:
    state = {"model": model.state_dict(), "bridge": bridge.state_dict() if bridge else None, "optimizer": optimizer.state_dict(),
             "ssl_head": ssl_head.state_dict() if ssl_head is not None else None,
             "step": step, "best": best, "rows": rows, "config": dataclasses.asdict(config)}
    save_torch(path, state)
