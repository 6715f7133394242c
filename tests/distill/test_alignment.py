"""The mathematics of the OT and uniform bridges, not only their shapes."""

import math

import pytest
import torch

from cmkt.distill.alignment import UniformBridge, build_bridge, order_log_prior, sinkhorn_plan, unmatched_frame_mass
from cmkt.distill.losses import cosine_distill_loss
from cmkt.errors import CmktError


def _masks(frames: list[int], tokens: list[int]):
    frame_mask = torch.arange(max(frames))[None, :] < torch.tensor(frames)[:, None]
    token_mask = torch.arange(max(tokens))[None, :] < torch.tensor(tokens)[:, None]
    return frame_mask, token_mask


def test_token_marginals_are_hard_and_padding_gets_nothing():
    torch.manual_seed(0)
    frame_mask, token_mask = _masks([40, 25], [7, 3])
    cost = torch.rand(2, 40, 7)
    plan = sinkhorn_plan(cost, frame_mask, token_mask, eps=0.1, tau=0.5, iterations=100)
    b = token_mask.float() / token_mask.sum(1, keepdim=True)
    assert torch.allclose(plan.sum(dim=1), b, atol=1e-5)
    assert plan[~frame_mask].abs().max() == 0 and plan.transpose(1, 2)[~token_mask].abs().max() == 0


def test_large_tau_recovers_balanced_ot():
    torch.manual_seed(1)
    frame_mask, token_mask = _masks([30], [6])
    cost = torch.rand(1, 30, 6)
    relaxed = sinkhorn_plan(cost, frame_mask, token_mask, eps=0.1, tau=0.05, iterations=300)
    nearly = sinkhorn_plan(cost, frame_mask, token_mask, eps=0.1, tau=1e4, iterations=300)
    balanced = sinkhorn_plan(cost, frame_mask, token_mask, eps=0.1, tau=math.inf, iterations=300)
    a = torch.full((1, 30), 1 / 30)
    assert torch.allclose(balanced.sum(dim=2), a, atol=1e-5)
    assert torch.allclose(nearly, balanced, atol=1e-5)
    assert unmatched_frame_mass(relaxed, frame_mask) > 10 * unmatched_frame_mass(nearly, frame_mask)


def test_order_prior_makes_a_repeated_token_alignment_monotone():
    # frames: A A A B B B A A A ; tokens: A B A. Cost alone lets token 0 take any A frames.
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    frames = torch.stack([a] * 3 + [b] * 3 + [a] * 3)[None]
    tokens = torch.stack([a, b, a])[None]
    cost = 1 - torch.nn.functional.cosine_similarity(frames[:, :, None], tokens[:, None], dim=-1)
    frame_mask, token_mask = _masks([9], [3])
    plain = sinkhorn_plan(cost, frame_mask, token_mask, eps=0.05, tau=math.inf, iterations=200)
    ordered = sinkhorn_plan(
        cost,
        frame_mask,
        token_mask,
        eps=0.05,
        tau=math.inf,
        iterations=200,
        log_prior=order_log_prior(frame_mask, token_mask, delta=0.5),
    )
    centre = lambda plan: (plan[0] * torch.arange(9.0)[:, None]).sum(0) / plan[0].sum(0)  # noqa: E731
    assert centre(ordered)[0] < 3 < centre(ordered)[1] < 6 < centre(ordered)[2]  # token k sits on block k
    assert abs(centre(plain)[0] - centre(plain)[2]) < 1.0  # without the prior both A tokens straddle both A blocks


def test_uniform_bridge_gives_each_token_its_share_of_frames():
    bridge = UniformBridge(4, 8, stride=1)
    frame_mask, token_mask = _masks([10, 4], [5, 6])
    _, weights = bridge(torch.randn(2, 10, 4), frame_mask, token_mask)
    owned = (weights[0] > 0).float()
    assert owned[:5].sum(1).tolist() == [2, 2, 2, 2, 2] and torch.allclose(weights[0, :5].sum(1), torch.ones(5))
    assert (weights[1, :6] > 0).sum(1).min() >= 1  # more tokens than frames: every token still sees a frame
    assert weights[1, :, 4:].abs().max() == 0  # never a padded frame


@pytest.mark.parametrize("kind", ["attention", "uot", "tot", "uniform"])
def test_gradients_reach_the_tap_but_never_the_teacher(kind):
    torch.manual_seed(0)
    bridge = build_bridge(kind, 16, 8)
    tap = torch.randn(2, 20, 16, requires_grad=True)
    tokens = torch.randn(2, 5, 8)  # cached teacher output: a constant
    frame_mask, token_mask = _masks([20, 12], [5, 3])
    predicted, weights = bridge(tap, frame_mask, token_mask, tokens)
    loss = cosine_distill_loss(predicted, tokens, token_mask)
    loss.backward()
    assert tap.grad is not None and tap.grad[0].abs().sum() > 0 and tap.grad[1, 12:].abs().max() == 0
    assert not tokens.requires_grad and tokens.grad is None
    assert weights.shape == (2, 5, 10) and torch.allclose(weights[0].sum(1), torch.ones(5), atol=1e-5)  # stride 2


def test_cosine_loss_is_zero_for_identical_inputs_and_unknown_alignment_is_refused():
    z = torch.randn(2, 4, 8)
    assert cosine_distill_loss(z, z.clone(), torch.ones(2, 4, dtype=torch.bool)).abs() < 1e-6
    with pytest.raises(CmktError, match="unknown alignment"):
        build_bridge("dtw", 16, 8)
