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
from cmkt.training.step_losses import LossSetup, batch_losses, loss_counts


LENGTHS = [16000, 12000, 14000, 9000]  # unequal: the halves hold unequal shares of frames, samples and tokens


def _batch(rank: int, world: int) -> dict:
    """Four items of unequal length and token count, padded as the global batch is; rank takes its share."""
    rng = np.random.default_rng(0)
    lengths = torch.tensor(LENGTHS)
    real = (torch.arange(16000)[None, :] < lengths[:, None]).float()
    clean = torch.from_numpy((0.1 * rng.standard_normal((4, 16000))).astype(np.float32)) * real
    noisy = clean + torch.from_numpy((0.05 * rng.standard_normal((4, 16000))).astype(np.float32)) * real
    tokens = torch.from_numpy(rng.standard_normal((4, 5, 16)).astype(np.float32))
    token_mask = torch.arange(5)[None, :] < torch.tensor([5, 3, 4, 2])[:, None]
    pick = slice(rank, None, world)
    return {
        "clean": clean[pick],
        "noisy": noisy[pick],
        "lengths": lengths[pick],
        "tokens": tokens[pick],
        "token_mask": token_mask[pick],
    }


def _gradients(rank: int, world: int) -> list[torch.Tensor]:
    from cmkt.distill.losses import parse_loss
    from cmkt.distributed import global_scales

    torch.manual_seed(0)
    model, bridge = build_model("stft-mask-gru", {"hidden": 32}), build_bridge("attention", 32, 16)
    params = list(model.parameters()) + list(bridge.parameters())
    weights = parse_loss("spectral_mae=1,wave_mae=1,stoi=1,si_sdr=0.01")
    batch = _batch(rank, world)
    setup = LossSetup(weights, bridge=bridge, alpha=0.5, max_shift=8, shift_prob=1.0, share=(rank, world))
    scales = global_scales(loss_counts(batch, setup), world)
    batch_losses(model, batch, setup, torch.Generator().manual_seed(3), scales)["loss"].backward()
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
    """Items of unequal length and token count, every kind of loss term: each rank weights its terms
    by its share of the global batch, so the averaged gradient is one process's to float precision."""
    single = _gradients(0, 1)
    mp.spawn(_worker, args=(2, 29517, str(tmp_path / "g.pt")), nprocs=2, join=True)
    both = torch.load(tmp_path / "g.pt")
    for a, b in zip(single, both):
        torch.testing.assert_close(b, a, atol=1e-7, rtol=1e-4)


def test_torchrun_with_two_cpu_processes_trains_what_one_process_trains(prepared, tmp_path):
    """50 steps on items of unequal length, with the LM teacher: 2 ranks train what 1 process trains.
    The logged losses are the global batch's and the validation agrees; the weights are compared as
    the issue measured them, their distance against the whole update in L2."""
    import csv

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    args = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--steps",
        "50",
        "--valid-every",
        "25",
        "--batch-size",
        "4",
        "--model-config",
        '{"hidden": 32}',
        "--threads",
        "1",
        "--loss",
        "spectral_mae=1,wave_mae=1,stoi=1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "cmkt", *args, "-o", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        done.stdout.count("best model:") == 1 and "best model:" not in done.stderr
    )  # one report, from rank 0, on stdout
    subprocess.run(
        [sys.executable, "-m", "cmkt", *args, "-o", str(tmp_path / "one")], check=True, capture_output=True, env=env
    )
    one = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)["model"]
    two = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)["model"]
    assert one.keys() == two.keys()
    torch.manual_seed(0)  # what `cmkt train --seed 0` starts from
    start = build_model("stft-mask-gru", {"hidden": 32}).state_dict()
    flat = lambda weights: torch.cat([weights[k].reshape(-1).double() for k in sorted(one)])  # noqa: E731
    update, apart = (flat(one) - flat(start)).norm(), (flat(two) - flat(one)).norm()
    # each step's gradient agrees to float precision (the test above; 2e-5 of the update after one step), and
    # 50 steps of training let that rounding grow (1% of the update at step 20, 1-3% at 50, where it was 29% at 20)
    assert apart < 0.05 * update, (
        f"2 ranks end {float(apart):.4g} from 1 process, against an update of {float(update):.4g}"
    )
    logs = [list(csv.DictReader((tmp_path / run / "train_log.csv").open())) for run in ("one", "two")]
    assert [r["step"] for r in logs[0]] == [r["step"] for r in logs[1]]
    for a, b in zip(*logs):
        for column in ("loss", "l_se", "l_cma", "val_pesq_wb", "val_stoi"):
            if a[column]:
                # the logged losses agree within 1e-4; PESQ on a few valid files moves with the weights' 1-3% drift
                # (measured 2.6e-3 and 1.0e-2 on fresh clones), so validation gets a bound of 2% of PESQ's scale
                tolerance = 3e-2 if column.startswith("val_") else 1e-3
                assert abs(float(a[column]) - float(b[column])) < tolerance, (a["step"], column, a[column], b[column])
