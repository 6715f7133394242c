"""Enhancement speed and memory: every registered backbone and the offline peers, one thread, one run.

Usage: OMP_NUM_THREADS=1 python bench/enhance_speed.py [--seconds 60] [--hour]
Prints real-time factors (compute time / audio time) on one CPU thread for CMKT's offline,
block-by-block and streaming paths and for DeepFilterNet3, RNNoise and noisereduce on the same
audio (peers at their native rate; resampling is not timed), the ratio to DeepFilterNet3, the
streaming latency and per-block compute, and with --hour the peak memory of `cmkt enhance` on a
one-hour 16 kHz file. Speech comes from ../shared/data when present, else generated signals.
"""

from __future__ import annotations

import argparse
import os

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).parent))
from measure import peak_rss_mb  # noqa: E402
from peers import all_peers  # noqa: E402

from cmkt.audio import read_audio, resample  # noqa: E402
from cmkt.inference.enhancer import enhance_array, enhance_file, load_enhancer  # noqa: E402
from cmkt.inference.export import OnnxStream, export_model  # noqa: E402
from cmkt.inference.streaming import supports_streaming  # noqa: E402
from cmkt.registry import ARCHITECTURES, build_model, save_checkpoint  # noqa: E402

VARIANTS = [
    ("stft-mask-gru", {"deep_filter_order": 3}),  # settings of a registered backbone worth timing too
    ("stft-mask-gru", {"hidden": 384, "deep_filter_order": 3}),  # the v2 default up to run s5 (recipes/open_corpus)
    ("stft-mask-gru", {"hidden": 384, "deep_filter_order": 3, "refine_layers": 2}),  # run s6
]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_audio(seconds: float) -> tuple[np.ndarray, str]:
    """Noisy 16 kHz speech: shared test utterances plus noise, or a generated stand-in."""
    rng = np.random.default_rng(0)
    target = int(seconds * 16000)
    manifest = SHARED / "speech" / "manifest.tsv"
    if manifest.is_file():
        import csv

        rows = [r for r in csv.DictReader(manifest.open(encoding="utf-8"), delimiter="\t") if r.get("split") == "test"]
        pieces, total = [], 0
        for row in rows:
            audio = read_audio(SHARED / row["path"], sample_rate=16000, mono=True).samples[0]
            pieces.append(audio)
            total += len(audio)
            if total >= target:
                break
        speech, source = np.concatenate(pieces)[:target], "../shared/data test speech + white noise at about 5 dB"
    else:
        t = np.arange(target) / 16000
        speech, source = (
            0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0),
            "generated tone bursts + white noise",
        )
    noise = rng.standard_normal(len(speech)).astype(np.float32)
    noise *= 0.56 * np.sqrt(np.mean(speech**2)) / np.sqrt(np.mean(noise**2))
    return (speech + noise).astype(np.float32), source


def timed(run, repeats: int = 2) -> tuple[float, float]:
    """Best wall and CPU seconds over `repeats` runs (CPU/wall near 1 means one thread was used)."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--hour", action="store_true", help="also measure peak memory on a one-hour file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    noisy, source = test_audio(args.seconds)
    seconds = len(noisy) / 16000
    print(f"audio: {seconds:.1f} s, {source}; torch threads: {torch.get_num_threads()}")
    work = Path(tempfile.mkdtemp(prefix="cmkt-bench-"))
    sf.write(work / "noisy.wav", noisy, 16000, subtype="FLOAT")
    rows = []
    default_rtf = None
    for arch, config in [(arch, {}) for arch in ARCHITECTURES] + VARIANTS:
        torch.manual_seed(0)
        label = arch + "".join(f" {k}={v}" for k, v in config.items())
        name = label.replace(" ", "_").replace("=", "")  # file stem
        save_checkpoint(work / f"{name}.pt", build_model(arch, config), arch)
        enhancer = load_enhancer(work / f"{name}.pt")
        params = sum(p.numel() for p in enhancer.model.parameters()) / 1e6
        paths = [
            ("offline array", lambda: enhance_array(enhancer, noisy, 16000)),
            ("file in 10 s blocks", lambda: enhance_file(enhancer, work / "noisy.wav", work / "out.wav")),
        ]
        if supports_streaming(enhancer.model):
            paths.append(("streaming 8 ms blocks", lambda: stream_blocks(enhancer, noisy, 128)))
        for path, run in paths:
            wall, cpu = timed(run)
            rows.append((f"cmkt {label} ({params:.2f} M), {path}", wall / seconds, cpu / wall))
            if default_rtf is None:
                default_rtf = wall / seconds
        if supports_streaming(enhancer.model):
            export_model(work / f"{name}.pt", "onnx", work / f"{name}.onnx")
            onnx_stream = OnnxStream(work / f"{name}.onnx", threads=1)
            wall, cpu = timed(lambda: onnx_stream.enhance(noisy))
            rows.append((f"cmkt {label}, exported ONNX step in onnxruntime, 8 ms blocks", wall / seconds, cpu / wall))
    for peer in all_peers():
        native = resample(noisy[None], 16000, peer.sample_rate)[0]
        wall, cpu = timed(lambda: peer.run(native))
        rows.append((f"{peer.name} ({peer.sample_rate // 1000} kHz)", wall / seconds, cpu / wall))
    print(f"\n{'system':64s} {'RTF 1 thread':>12s} {'CPU/wall':>9s}")
    for label, rtf, ratio in rows:
        print(f"{label:64s} {rtf:12.4f} {ratio:9.2f}")
    dfn = [rtf for label, rtf, _ in rows if label.startswith("DeepFilterNet3")]
    if dfn:
        print(f"\nCMKT default (offline) / DeepFilterNet3 real-time factor: {default_rtf / dfn[0]:.3f}")
    report_streaming(work)
    if args.hour:
        report_memory(work)


def stream_blocks(enhancer, noisy: np.ndarray, block: int) -> list[float]:
    """Feed `block`-sample blocks; returns each call's compute time."""
    stream, times = enhancer.stream(), []
    for start in range(0, len(noisy), block):
        begin = time.perf_counter()
        stream.push(noisy[start : start + block])
        times.append(time.perf_counter() - begin)
    stream.flush()
    return times


def report_streaming(work: Path) -> None:
    enhancer = load_enhancer(work / "stft-mask-gru.pt")
    noisy, _ = test_audio(20.0)
    for block_ms in (8, 16):
        times = np.array(stream_blocks(enhancer, noisy, block_ms * 16)) * 1000
        print(
            f"streaming {block_ms} ms blocks: algorithmic latency {enhancer.stream().latency_ms(16000):.0f} ms; "
            f"compute per block mean {times.mean():.2f} ms, p99 {np.percentile(times, 99):.2f} ms, max "
            f"{times.max():.2f} ms"
        )


def report_memory(work: Path) -> None:
    hour = work / "hour.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(hour, "w", 16000, 1, "PCM_16") as out:
        for _ in range(60):
            out.write((0.1 * rng.standard_normal(16000 * 60)).astype(np.float32))
    model = work / "stft-mask-gru.pt"
    loaded = peak_rss_mb(f"from cmkt.inference.enhancer import load_enhancer; load_enhancer({str(model)!r})")
    start = time.perf_counter()
    whole = peak_rss_mb(
        f"from cmkt.cli import main; import sys; sys.argv = ['cmkt', 'enhance', {str(hour)!r}, '-o', "
        f"{str(work / 'out')!r}, "
        f"'--model', {str(model)!r}, '--overwrite']; main()"
    )
    wall = time.perf_counter() - start
    print(
        f"one-hour 16 kHz file: `cmkt enhance` peak RSS {whole:.0f} MB (python + torch + model alone: {loaded:.0f} "
        f"MB), "
        f"{wall:.0f} s wall"
    )
    ten_min = (
        f"import soundfile as sf; from cmkt.inference.enhancer import enhance_array, load_enhancer; "
        f"x, _ = sf.read({str(hour)!r}, frames=16000 * 600, dtype='float32'); "
        f"enhance_array(load_enhancer({str(model)!r}), x, 16000)"
    )
    print(f"for contrast, the whole-array path on 10 minutes: peak RSS {peak_rss_mb(ten_min):.0f} MB")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
