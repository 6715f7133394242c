"""`cmkt export`: the inference graph alone (no distillation bridge, no teacher) as ONNX or TorchScript.

What is exported is one streaming step: `block_frames` hops of new samples plus the carried
state in, enhanced samples plus the next state out, with fixed shapes. That is the graph real-time
hosts need (frame in, frame out), and it avoids what breaks ONNX exports of SE models: complex
tensors (the spectrum is real (..., 2) pairs) and time-varying shapes (torch's exporter cannot keep
a GRU's sequence length symbolic). Offline use runs the step over the file; `OnnxStream` does so.
The metadata says the sample rate, hop, delay and state shapes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from cmkt.errors import CmktError
from cmkt.util.atomic_files import atomic_path
from cmkt.inference.streaming import StreamingEnhancer, stream_step, supports_streaming
from cmkt.models.post_filter import resolve_post_filter
from cmkt.registry import load_model, resolve_model

FORMATS = ("onnx", "torchscript")


class StreamingStepGraph(torch.nn.Module):
    """stream_step with its state flattened into positional tensors (what exporters want)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, noisy: torch.Tensor, input_tail: torch.Tensor, output_tail: torch.Tensor, *state: torch.Tensor):
        enhanced, input_tail, output_tail, state_out = stream_step(
            self.model, noisy, input_tail, output_tail, list(state)
        )
        return (enhanced, input_tail, output_tail, *state_out)


def step_inputs(model: torch.nn.Module, block_frames: int, channels: int = 1) -> tuple[torch.Tensor, ...]:
    """Zero inputs of the exported step: a block of samples, both tails, the model's state."""
    tail = torch.zeros(channels, model.stft.delay)
    return (torch.zeros(channels, block_frames * model.stft.hop), tail, tail.clone(), *model.init_state(channels))


def export_model(
    model: str | Path, fmt: str, out: str | Path, block_frames: int = 1, post_filter: float | None = None
) -> dict:
    """Write the streaming step of `model` to `out`; returns the metadata stored with it. The post-filter
    (cmkt.models.post_filter) is built in at `post_filter`'s strength, or at the checkpoint's own if None."""
    if fmt not in FORMATS:
        raise CmktError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    net, meta = load_model(resolve_model(str(model)))
    if not supports_streaming(net):
        raise CmktError(f"{meta['arch']}: only causal (streaming) models can be exported")
    net.post_filter_beta = resolve_post_filter(meta, post_filter)
    graph = StreamingStepGraph(net).eval()
    inputs = step_inputs(net, block_frames)
    state_count = len(inputs) - 3
    info = {
        "cmkt_arch": meta["arch"],
        "sample_rate": int(meta["sample_rate"]),
        "hop": net.stft.hop,
        "block_samples": block_frames * net.stft.hop,
        "delay_samples": net.stft.delay,
        "latency_ms": StreamingEnhancer(net).latency_ms(int(meta["sample_rate"])),
        "state_shapes": json.dumps([list(t.shape) for t in inputs[3:]]),
        "post_filter": net.post_filter_beta,
    }
    input_names = ["noisy", "input_tail", "output_tail"] + [f"state_{i}" for i in range(state_count)]
    output_names = ["enhanced", "next_input_tail", "next_output_tail"] + [f"next_state_{i}" for i in range(state_count)]
    with atomic_path(out) as tmp, torch.no_grad(), quiet_exporters():
        if fmt == "onnx":
            _write_onnx(graph, inputs, tmp, input_names, output_names, info)
        else:
            traced = torch.jit.trace(graph, inputs)
            torch.jit.save(traced, str(tmp), _extra_files={"cmkt.json": json.dumps(info)})
    return info


@contextlib.contextmanager
def quiet_exporters() -> Iterator[None]:
    """The exporters print progress and warn about tracing choices made on purpose here (fixed shapes)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _write_onnx(graph, inputs, path: Path, input_names, output_names, info: dict) -> None:
    try:
        import onnx
    except ImportError as exc:
        raise CmktError("ONNX export needs the onnx packages: pip install 'cmkt[export]'") from exc
    program = torch.onnx.export(
        graph, inputs, dynamo=True, input_names=input_names, output_names=output_names, verbose=False
    )
    program.save(str(path))
    proto = onnx.load(str(path))
    for key, value in info.items():
        proto.metadata_props.add(key=key, value=str(value))
    onnx.save(proto, str(path))


class OnnxStream:
    """Run an exported step with onnxruntime over a whole signal (mono, at the model's rate)."""

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.sample_rate, self.block = int(meta["sample_rate"]), int(meta["block_samples"])
        self.delay = int(meta["delay_samples"])
        self.state_shapes = json.loads(meta["state_shapes"])

    def enhance(self, samples: np.ndarray) -> np.ndarray:
        """(n,) float32 at `sample_rate` -> (n,) enhanced, aligned with the input."""
        length = len(samples)
        total = -(-(length + self.delay) // self.block) * self.block
        padded = np.zeros(total, dtype=np.float32)
        padded[:length] = samples
        feed = {
            "input_tail": np.zeros((1, self.delay), np.float32),
            "output_tail": np.zeros((1, self.delay), np.float32),
            **{f"state_{i}": np.zeros(shape, np.float32) for i, shape in enumerate(self.state_shapes)},
        }
        outputs = []
        names = [o.name for o in self.session.get_outputs()]
        for start in range(0, total, self.block):
            feed["noisy"] = padded[None, start : start + self.block]
            result = dict(zip(names, self.session.run(None, feed)))
            outputs.append(result.pop("enhanced")[0])
            feed.update({name.replace("next_", "", 1): value for name, value in result.items()})
        return np.concatenate(outputs)[self.delay : self.delay + length]
