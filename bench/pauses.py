"""How much noise each system leaves where no one speaks: the residual that DNSMOS BAK and listeners
hear first, measured in the frames where the clean speech is more than 45 dB below its loudest frame.

For each system: the output's level in those pause frames relative to the noisy input's (dB; lower
is more noise removed), split into the low bins (0-4 kHz, where stft-mask-gru's deep filter acts)
and the high bins, and the level in speech frames (within 25 dB of the peak) relative to the clean
speech. Systems come from an open_test.py run's enhanced outputs (`--system`) or are run here on the
chosen files only (`--model NAME=PATH`, and the peers), so a diagnosis scores nothing else. With
`--train-manifest`, also how much pause the train speech has: per corpus (the speaker's prefix),
the quietest 16 ms frame of each clean file relative to its loudest, and the gain the loss asks for
in the quietest fifth of the frames of a train mixture (clean power re mixture power); with `--loss-model`,
what pauses do to each loss term on that model's output (the same train utterances with and without
`pause=1`).

Usage: python bench/pauses.py [--split valid] [--condition plain] [--every 7] [--files 60]
           [--system baseline_v2_s7 ...] [--model s11=RUN/model.pt ...] [--peers RNNoise,DeepFilterNet3]
           [--train-manifest RUNS/data/train.jsonl [--loss-model cmkt-base-16k]]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import all_peers  # noqa: E402

from cmkt.audio import read_audio, resample  # noqa: E402
from cmkt.inference.enhancer import enhance_array, load_enhancer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAUSE_DB, SPEECH_DB = 45.0, 25.0  # below the loudest clean frame: a pause; within: speech
N_FFT, HOP, LOW_BINS = 512, 128, 129


def power_frames(x: np.ndarray) -> np.ndarray:
    """(frames, bins) power spectrogram (torch.stft, Hann window)."""
    spec = torch.stft(
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        N_FFT,
        HOP,
        window=torch.hann_window(N_FFT),
        return_complex=True,
    )
    return spec.abs().pow(2).T.numpy().astype(np.float64)


def db(power: np.ndarray) -> float:
    return float(10 * np.log10(power.sum() + 1e-20))


def file_levels(clean: np.ndarray, noisy: np.ndarray, output: np.ndarray) -> dict[str, float] | None:
    """Pause attenuation (all, low, high bins) re noisy and speech level re clean for one file."""
    length = min(len(clean), len(noisy), len(output))
    c, n, y = (power_frames(x[:length]) for x in (clean, noisy, output))
    frame_db = 10 * np.log10(c.sum(1) + 1e-20)
    pause, speech = frame_db < frame_db.max() - PAUSE_DB, frame_db > frame_db.max() - SPEECH_DB
    if not pause.any():
        return None
    low, high = slice(0, LOW_BINS), slice(LOW_BINS, None)
    return {
        "pause": db(y[pause]) - db(n[pause]),
        "pause_low": db(y[pause][:, low]) - db(n[pause][:, low]),
        "pause_high": db(y[pause][:, high]) - db(n[pause][:, high]),
        "speech": db(y[speech]) - db(c[speech]),
    }


def output_table(args) -> None:
    root = Path.home() / ".cache" / "cmkt" / "open_corpus" / f"open_{args.split}" / args.condition
    items = [json.loads(line) for line in (root / f"{args.split}.jsonl").read_text().splitlines() if line.strip()]
    items = items[:: args.every][: args.files]
    enhanced = REPO / "runs" / f"open_{args.split}" / args.condition / "enhanced"
    processes = []  # (name, mono float32 at rate -> same, rate): the models, then the peers, run here
    for name, path in (spec.split("=", 1) for spec in args.model):
        enhancer = load_enhancer(path, threads=1)
        processes.append((name, lambda x, e=enhancer: enhance_array(e, x, e.sample_rate), enhancer.sample_rate))
    wanted = set(filter(None, args.peers.split(",")))
    processes += [(peer.name, peer.run, peer.sample_rate) for peer in all_peers() if peer.name in wanted]
    rows: dict[str, list[dict]] = {name: [] for name in ["noisy", *args.system, *(p[0] for p in processes)]}
    for item in items:
        clean = read_audio(root / item["clean"], sample_rate=16000, mono=True).samples[0]
        noisy = read_audio(root / item["noisy"], sample_rate=16000, mono=True).samples[0]
        outputs = {"noisy": noisy}
        for name in args.system:
            outputs[name] = read_audio(
                enhanced / name / Path(item["noisy"]).name, sample_rate=16000, mono=True
            ).samples[0]
        for name, process, rate in processes:
            output = np.asarray(process(resample(noisy[None], 16000, rate)[0]), dtype=np.float32)
            outputs[name] = resample(output[None], rate, 16000)[0]
        for name, output in outputs.items():
            levels = file_levels(clean, noisy, output)
            if levels:
                rows[name].append(levels)
    files = len(rows["noisy"])
    print(
        f"open-{args.split} {args.condition}: {files} of {len(items)} files have pauses "
        f"(clean frames {PAUSE_DB:g} dB below the peak)\n"
    )
    print("| system | pause re noisy, dB | 0-4 kHz | 4-8 kHz | speech re clean, dB |\n|---|---|---|---|---|")
    for name, values in rows.items():
        mean = {key: np.mean([v[key] for v in values]) for key in values[0]}
        print(
            f"| {name} | {mean['pause']:.1f} | {mean['pause_low']:.1f} | {mean['pause_high']:.1f} | "
            f"{mean['speech']:+.2f} |"
        )


def train_table(manifest: Path, per_corpus: int) -> None:
    """Per corpus: the quietest 16 ms frame of each clean file re its loudest, and what the loss asks of the
    model in the quietest fifth of a train mixture's frames (target power re mixture power: the ideal gain)."""
    from cmkt.data.mixing import load_mixer

    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    corpora: dict[str, list[dict]] = {}
    for row in rows:
        corpora.setdefault(row["speaker"].split("-")[0], []).append(row)
    mixer = load_mixer(manifest.parent, "noise,level")
    rng = random.Random(0)
    print(f"\n{manifest}: {per_corpus} clean files a corpus, each mixed once (noise,level)\n")
    print(
        "| corpus | utterances | quietest frame re loudest, median dB | 75th percentile | "
        "ideal gain in the quietest fifth, median dB |\n|---|---|---|---|---|"
    )
    for corpus, items in sorted(corpora.items()):
        quietest, gains = [], []
        for index, row in enumerate(rng.sample(items, min(per_corpus, len(items)))):
            x = read_audio(manifest.parent / row["clean"], sample_rate=16000, mono=True).samples[0]
            energy = frame_power(x)
            quietest.append(10 * np.log10((energy.min() + 1e-12) / energy.max()))
            target, noisy, _ = mixer.mix(x, "train", np.random.default_rng(index))
            clean_power, noisy_power = frame_power(target), frame_power(noisy)
            quiet = clean_power <= np.percentile(clean_power, 20)
            gains.append(10 * np.log10((clean_power[quiet].sum() + 1e-20) / noisy_power[quiet].sum()))
        print(
            f"| {corpus} | {len(items)} | {np.median(quietest):.1f} | {np.percentile(quietest, 75):.1f} | "
            f"{np.median(gains):.1f} |"
        )


def loss_terms_table(manifest: Path, model_name: str, count: int = 16, seconds: float = 4.0) -> None:
    """Each enhancement loss term on `model_name`'s output for `count` train utterances (evenly spread), mixed
    with `noise,level` and with `noise,pause=1,level` (the same draws otherwise): how much silent targets weigh."""
    from cmkt.data.dataset import collate
    from cmkt.data.mixing import load_mixer
    from cmkt.distill.losses import ENHANCEMENT_LOSSES
    from cmkt.registry import load_model, resolve_model

    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = rows[:: max(1, len(rows) // count)][:count]
    model, _ = load_model(resolve_model(model_name))
    model.eval()
    print(
        f"\n{model_name}: loss terms on {len(rows)} train utterances (at most {seconds:g} s), without and with pauses\n"
    )
    names = [name for name in ENHANCEMENT_LOSSES if name != "si_sdr"]
    print("| augment | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    limit = int(seconds * 16000)
    for spec in ("noise,level", "noise,pause=1,level"):
        mixer, items = load_mixer(manifest.parent, spec), []
        for index, row in enumerate(rows):
            clean = read_audio(manifest.parent / row["clean"], sample_rate=16000, mono=True).samples[0]
            target, noisy, _ = mixer.mix(clean, "train", np.random.default_rng(index))
            items.append(
                {
                    "clean": torch.from_numpy(target[:limit].copy()),
                    "noisy": torch.from_numpy(noisy[:limit].copy()),
                    "tokens": None,
                    "id": str(index),
                }
            )
        batch = collate(items)
        with torch.no_grad():
            output, _ = model(batch["noisy"])
            terms = [float(ENHANCEMENT_LOSSES[name](output, batch["clean"], batch["lengths"])) for name in names]
        print(f"| {spec} | " + " | ".join(f"{value:.4f}" for value in terms) + " |")


def frame_power(x: np.ndarray, size: int = 256) -> np.ndarray:
    """Mean power of consecutive 16 ms frames (at 16 kHz)."""
    frames = np.asarray(x[: len(x) // size * size], dtype=np.float64).reshape(-1, size)
    return (frames**2).mean(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("test", "valid"), default="valid")
    parser.add_argument("--condition", default="plain")
    parser.add_argument("--every", type=int, default=7, help="every K-th utterance (ordered by speaker)")
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--system", action="append", default=[], help="an enhanced/ folder of an open_test.py run")
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH (or installed name): run it here")
    parser.add_argument("--peers", default="RNNoise,DeepFilterNet3", help="peers to run (comma list; '' for none)")
    parser.add_argument("--train-manifest", type=Path, help="also measure the pauses of this train manifest's speech")
    parser.add_argument("--train-files", type=int, default=60, help="clean files a corpus for --train-manifest")
    parser.add_argument(
        "--loss-model", help="with --train-manifest: the loss terms on this model's output, with and without pauses"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    output_table(args)
    if args.train_manifest:
        train_table(args.train_manifest, args.train_files)
        if args.loss_model:
            loss_terms_table(args.train_manifest, args.loss_model)


if __name__ == "__main__":
    main()
