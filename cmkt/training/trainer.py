"""`cmkt train`'s loop: a small Trainer that builds a run, restores it, steps, validates and saves.

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
from cmkt.distill.alignment import build_bridge
from cmkt.distill.losses import parse_loss
from cmkt.distributed import (
    agree,
    average_gradients,
    finish,
    global_mean,
    global_scales,
    pad_to_global_length,
    rank_and_size,
)
from cmkt.errors import CmktError
from cmkt.registry import build_model, load_payload, save_checkpoint, save_torch
from cmkt.training.config import RUNTIME_SETTINGS, TrainConfig, legacy_settings
from cmkt.training.schedule import learning_rate
from cmkt.training.selection import parse_select, selection_score, validate, validation_set, validations_since_best
from cmkt.training.starting_weights import load_starting_weights, read_starting_weights
from cmkt.training.step_losses import LossSetup, batch_losses, loss_counts
from cmkt.util.atomic_files import write_csv_atomic, write_text_atomic
from cmkt.util.devices import resolve_device
from cmkt.util.progress import console, progress_bar

LOG_FIELDS = ["step", "loss", "l_se", "l_cma", "l_ssl", "unmatched", "val_pesq_wb", "val_stoi", "seconds"]
LOGGED_TERMS = {
    "loss": 5,
    "l_se": 5,
    "l_cma": 5,
    "l_ssl": 5,
    "unmatched": 4,
}  # a step's terms the log keeps, and their decimals


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train; returns the path of the best inference checkpoint (model.pt in the run folder)."""
    return Trainer(config).run(resume)


class Trainer:
    """One run: the backbone, its teachers' bridge or head, the optimiser and data, and where the run stands.

    `run` is the whole of `cmkt train`; `restore`, `train_step` and `validate_and_save` are its parts, and each
    leaves the state a checkpoint holds (step, best, rows) consistent."""

    def __init__(self, config: TrainConfig):
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.set_flush_denormal(True)  # tiny activations late in training otherwise slow CPU steps ~1.6x
        loss_weights, self.select = parse_loss(config.loss), parse_select(config.select)
        self.rank, self.world = rank_and_size()
        check_inputs(config, self.world)
        self.cache = resolve_cache(config)
        self.device = resolve_device(config.device)
        start = read_starting_weights(config)
        if start is not None:  # the run is a run of the backbone it starts from
            config = dataclasses.replace(config, arch=start.arch, model=start.model)
        self.config, self.out = config, Path(config.out)
        self.lead = self.rank == 0  # only rank 0 validates, writes and draws
        self.model, bridge, ssl = self._modules(start)
        self.setup = LossSetup(
            loss_weights,
            self.model.config.sample_rate,
            bridge,
            ssl,
            config.alpha,
            int(round(config.shift_ms / 1000 * self.model.frame_rate)),
            config.shift_prob,
            config.ssl_weight,
            (self.rank, self.world),
        )
        self.params = [
            *self.model.parameters(),
            *(bridge.parameters() if bridge else ()),
            *(ssl[1].parameters() if ssl else ()),
        ]
        self.optimizer = torch.optim.Adam(self.params, lr=learning_rate(config, 0))
        self.train_set, self.valid_set = self._datasets()
        self.step, self.best, self.rows = 0, -math.inf, []
        self.forward, self.started = self.model, time.perf_counter()
        self.data_hash = file_hash(config.train_manifest)  # model.pt records which manifest made it

    @property
    def state_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "model.pt"

    @property
    def log_path(self) -> Path:
        return self.out / "train_log.csv"

    def _modules(self, start) -> tuple:
        """(backbone, bridge or None, (SSLTeacher, SSLHead) or None) on the device, drawn from the run's seed."""
        config = self.config
        torch.manual_seed(config.seed)
        model = build_model(config.arch, config.model)
        if start is not None:
            load_starting_weights(model, start.state_dict)
        bridge = None
        if self.cache is not None:
            bridge = build_bridge(
                config.align,
                model.tap_dim,
                self.cache.dim,
                config.ot_eps,
                config.ot_tau,
                config.ot_delta,
                config.bridge_stride,
            )
        ssl = self._ssl_teacher(model.tap_dim)
        for module in (model, bridge, *(ssl or ())):
            if module is not None:
                module.to(self.device)
        return model, bridge, ssl

    def _datasets(self) -> tuple[SEDataset, SEDataset]:
        """The training set (mixed afresh each epoch with --dynamic-mixing) and the validation set."""
        config, rate = self.config, self.setup.sample_rate
        mixer = (
            load_mixer(Path(config.train_manifest).parent, config.augment, config.rirs)
            if config.dynamic_mixing
            else None
        )
        train_set = SEDataset(config.train_manifest, rate, config.max_seconds, self.cache, config.seed, mixer)
        return train_set, validation_set(config.valid_manifest, rate, config.max_seconds, self.cache, config.seed)

    def _ssl_teacher(self, tap_dim: int) -> tuple | None:
        """(SSLTeacher, SSLHead) for `--ssl-teacher`, or None."""
        if not self.config.ssl_teacher:
            return None
        from cmkt.teachers.ssl import SSLHead, SSLSpec, SSLTeacher

        spec = SSLSpec.read(self.config.ssl_teacher)
        teacher = SSLTeacher(spec)
        return teacher, SSLHead(tap_dim, teacher.dims, spec.layer_weights)

    def restore(self) -> None:
        """Continue from checkpoint.pt: weights, optimiser, step, best score and log, if its settings match."""
        state = load_payload(self.state_path)  # never runs code from the file
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
        saved = {
            **defaults,
            **legacy_settings(state["config"]),
        }  # an older cmkt's run lacks the newer settings: it used their defaults
        if {k: v for k, v in saved.items() if k not in RUNTIME_SETTINGS} != {
            k: v for k, v in dataclasses.asdict(self.config).items() if k not in RUNTIME_SETTINGS
        }:
            raise CmktError(
                f"{self.state_path}: run was started with other settings; resume with the same flags or use a new --out"
            )
        self.model.load_state_dict(state["model"])
        if self.setup.bridge is not None:
            try:
                self.setup.bridge.load_state_dict(state["bridge"])
            except RuntimeError:
                raise CmktError(
                    f"{self.state_path}: its bridge was built by another cmkt version; resume it with that version "
                    "or start a new --out (the inference model.pt is unaffected)"
                ) from None
        if self.setup.ssl is not None:
            self.setup.ssl[1].load_state_dict(state["ssl_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.best, self.rows = state["step"], state["best"], state["rows"]
        console.print(f"resuming {self.out} at step {self.step}")

    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimiser step on `batch`; returns its loss terms (the global batch's, under torchrun)."""
        config = self.config
        batch = to_device(pad_to_global_length(batch, self.world), self.device)
        shifts = torch.Generator().manual_seed(config.seed * 1_000_003 + self.step)
        scales = global_scales(loss_counts(batch, self.setup), self.world) if self.world > 1 else None
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.amp):
            terms = batch_losses(self.forward, batch, self.setup, shifts, scales)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        average_gradients(self.params, self.world)
        torch.nn.utils.clip_grad_norm_(self.params, config.grad_clip)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.step)
        self.optimizer.step()
        self.step += 1
        names = [name for name in LOGGED_TERMS if name in terms]
        return dict(zip(names, global_mean([terms[name].item() for name in names], self.world)))

    def log_row(self, interval: list[dict[str, float]]) -> dict:
        """The log's row for the steps since the last row: each term's mean over them."""
        shown = {
            "l_ssl": self.setup.ssl is not None,
            "unmatched": self.setup.bridge is not None and self.config.align in ("uot", "tot"),
        }
        row: dict = {"step": self.step}
        for name, decimals in LOGGED_TERMS.items():
            values = [terms[name] for terms in interval if name in terms]
            row[name] = round(float(np.mean(values)), decimals) if values and shown.get(name, True) else ""
        return row

    def validate_and_save(self, row: dict) -> bool:
        """Validate, keep model.pt if it is the best so far, checkpoint and write the log; True to stop early."""
        config = self.config
        if not self.lead:
            return agree(False, self.world)
        scores = validate(self.model, self.valid_set, config.valid_items)
        row.update({k: round(v, 4) for k, v in scores.items()}, seconds=round(time.perf_counter() - self.started, 1))
        score = selection_score(scores, self.select)
        if score > self.best:
            self.best = score
            save_checkpoint(
                self.best_path,
                self.model,
                config.arch,
                steps=self.step,
                train_data=self.data_hash,
                metrics=scores,
                teacher=("none" if self.cache is None else self.cache.index.get("teacher", "")),
                alpha=config.alpha,
                init=config.init,
            )
        self.rows.append(row)
        self.save_state()
        write_csv_atomic(self.log_path, LOG_FIELDS, self.rows)
        if self.setup.bridge is not None:
            save_alignment_picture(
                self.out / "alignment.png",
                self.model,
                self.setup.bridge,
                self.valid_set,
                f"{config.align}, step {self.step}",
            )
        stop = agree(
            bool(config.patience) and validations_since_best(self.rows, self.select) >= config.patience, self.world
        )
        if stop:
            console.print(
                f"early stop at step {self.step}: no better validation {config.select} in {config.patience} validations"
            )
        return stop

    def save_state(self) -> None:
        """checkpoint.pt (atomic): all that `--resume` needs to continue exactly."""
        bridge, ssl = self.setup.bridge, self.setup.ssl
        save_torch(
            self.state_path,
            {
                "model": self.model.state_dict(),
                "bridge": bridge.state_dict() if bridge else None,
                "optimizer": self.optimizer.state_dict(),
                "ssl_head": ssl[1].state_dict() if ssl else None,
                "step": self.step,
                "best": self.best,
                "rows": self.rows,
                "config": dataclasses.asdict(self.config),
            },
        )

    def run(self, resume: bool = False) -> Path:
        """Train to `steps` (or an early stop) from a fresh start or, with `resume`, from the checkpoint."""
        config = self.config
        if resume and self.state_path.is_file():
            self.restore()
        elif not resume and self.state_path.exists():
            raise CmktError(f"{self.out}: already holds a run; pass --resume to continue it or choose a new --out")
        if self.lead:
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / "config.json", json.dumps(dataclasses.asdict(config), indent=2))
        batches = torch.utils.data.DataLoader(
            StepBatches(self.train_set, config.batch_size, config.seed, (self.rank, self.world)),
            batch_size=None,
            sampler=range(self.step, config.steps),
            num_workers=config.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if config.workers else None,
        )
        self.model.train()
        self.forward = compiled(self.model) if config.compile else self.model
        self.started = time.perf_counter() - elapsed_before(self.rows)  # "seconds" runs on across --resume
        interval: list[dict[str, float]] = []  # the steps since the last logged row
        with progress_bar(disable=not self.lead) as bar:
            task = bar.add_task(
                "training" if self.setup.distilling else "training (baseline)",
                total=config.steps,
                completed=self.step,
                status="",
            )
            for batch in batches:
                interval.append(self.train_step(batch))
                row = self.log_row(interval)
                bar.update(task, completed=self.step, status=f"loss {row['loss']:.4f}")
                if self.step % config.valid_every == 0 or self.step == config.steps:
                    interval.clear()
                    if self.validate_and_save(row):
                        break
                    if self.lead:
                        bar.update(task, status=f"loss {row['loss']:.4f} val PESQ {row['val_pesq_wb']:.3f}")
                elif self.step % 10 == 0:
                    self.rows.append(row)
                    interval.clear()
        if self.lead:
            from cmkt.evaluation.report import plot_training_curves

            plot_training_curves(self.log_path, self.out / "training_curves.png")
        finish(self.world)
        return self.best_path


def check_inputs(config: TrainConfig, world: int) -> None:
    """Refuse, before anything is built, a batch that does not split over the processes or a manifest with problems."""
    if config.batch_size % world:
        raise CmktError(
            f"--batch-size {config.batch_size} must be a multiple of the {world} processes (the global batch is split)"
        )
    for manifest in (config.train_manifest, config.valid_manifest):  # headers only: seconds, not hours
        problems = validate_manifest(manifest, read_samples=False)
        if problems:
            raise CmktError(
                f"{len(problems)} problem(s) in {manifest}, first: {problems[0]} "
                f"(`cmkt prep --check --speech {manifest}` lists them all)"
            )


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
        raise CmktError(
            f"{root}: expected one teacher cache, found {len(folders)}; pass --teacher CACHE_FOLDER or --teacher none"
        )
    return EmbeddingCache(folders[0])


def file_hash(path: str | Path) -> str:
    """A short content hash: model.pt records which training manifest made it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


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
        _, weights = bridge(
            tap,
            torch.ones(tap.shape[:2], dtype=torch.bool, device=device),
            torch.ones(tokens.shape[:2], dtype=torch.bool, device=device),
            tokens,
        )
    model.train(was_training)
    bridge.train(was_training)
    plot_alignment(
        path, weights[0].cpu().numpy(), model.frame_rate / bridge.stride, f"{title}: {dataset.utterances[index].id}"
    )
