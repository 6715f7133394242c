"""Two CPU processes (gloo) give the gradient of one process with the same global batch."""
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.multiprocessing as mp

from cmkt.distill.alignment import build_bridge
from cmkt.distributed import average_gradients
from cmkt.registry import build_model
from cmkt.train import batch_losses


def _batch(rank: int, world: int) -> dict:
    """Four equal-length items (so per-rank normalisations match the global ones); rank takes its share."""
    rng = np.random.default_rng(0)
    clean = torch.from_numpy((0.1 * rng.standard_normal((4, 8000))).astype(np.float32))
    noisy = clean + torch.from_numpy((0.05 * rng.standard_normal((4, 8000))).astype(np.float32))
    tokens = torch.from_numpy(rng.standard_normal((4, 5, 16)).astype(np.float32))
    pick = slice(rank, None, world)
    return {"clean": clean[pick], "noisy": noisy[pick], "lengths": torch.full((4,), 8000)[pick], "tokens": tokens[pick],
            "token_mask": torch.ones(4, 5, dtype=torch.bool)[pick]}


def _gradients(rank: int, world: int) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model, bridge = build_model("stft-mask-gru", {"hidden": 32}), build_bridge("attention", 32, 16)
    params = list(model.parameters()) + list(bridge.parameters())
    loss, _, _ = batch_losses(model, bridge, _batch(rank, world), 0.5, 8, 1.0, torch.Generator().manual_seed(3), share=(rank, world))
    loss.backward()
    average_gradients(params, world)
    return [p.grad.clone() for p in params]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    grads = _gradients(rank, world)
    if rank == 0:
        torch.save(grads, out)
    torch.distributed.destroy_process_group()


def test_averaged_gradients_of_two_processes_equal_one_process(tmp_path):
    single = _gradients(0, 1)
    mp.spawn(_worker, args=(2, 29517, str(tmp_path / "g.pt")), nprocs=2, join=True)
    both = torch.load(tmp_path / "g.pt")
    for a, b in zip(single, both):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-4)


def test_torchrun_trains_with_two_cpu_processes(prepared, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    args = ["train", "--train", str(prepared / "train.jsonl"), "--valid", str(prepared / "valid.jsonl"), "--steps", "2",
            "--valid-every", "2", "--batch-size", "4", "--model-config", '{"hidden": 32}', "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "cmkt", *args, "-o", str(tmp_path / "two")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best model:") == 1 and "best model:" not in done.stderr  # one report, from rank 0, on stdout
    subprocess.run([sys.executable, "-m", "cmkt", *args, "-o", str(tmp_path / "one")], check=True, capture_output=True)
    one = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)["model"]
    two = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)["model"]
    assert one.keys() == two.keys()
    for name in one:  # items of unequal length normalise a little differently per rank: close, not equal
        torch.testing.assert_close(two[name], one[name], atol=5e-3, rtol=0)
