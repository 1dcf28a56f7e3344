import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from pixelnoise.detect import (
    choose_theta,
    clean_mask,
    plot_theta_curve,
    theta_curve,
    theta_grid,
)
from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.losses import pixel_losses

V = 255


# ---------------------------------------------------------------- pixel_losses (eq. 2)


def test_pixel_losses_match_negative_log_softmax_and_nan_at_void():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=gen) * 3
    labels = torch.randint(0, 3, (2, 4, 5), generator=gen)
    labels[0, 1, 2] = V
    labels[1, 3, 4] = V
    losses = pixel_losses(logits, labels)
    assert losses.shape == (2, 4, 5) and losses.dtype == torch.float32

    probs = torch.softmax(logits.double(), dim=1).numpy()
    for n in range(2):
        for y in range(4):
            for x in range(5):
                label = int(labels[n, y, x])
                if label == V:
                    assert math.isnan(losses[n, y, x])
                else:
                    expected = -math.log(probs[n, label, y, x])
                    assert losses[n, y, x].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert int(torch.isnan(losses).sum()) == 2


def test_pixel_losses_hand_checked_and_half_precision():
    # logits (2, 0): p = e^2 / (e^2 + 1); label 1 -> -log(1 / (e^2 + 1)) = log(1 + e^2)
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])
    losses = pixel_losses(logits, torch.tensor([[[1, 0]]]))
    assert losses[0, 0, 0].item() == pytest.approx(math.log(1 + math.e**2), rel=1e-6)
    assert losses[0, 0, 1].item() == pytest.approx(math.log(2), rel=1e-6)
    half = pixel_losses(logits.half(), torch.tensor([[[1, 0]]]))
    assert half.dtype == torch.float32
    ce = F.cross_entropy(logits, torch.tensor([[[1, 0]]]), reduction="none")
    torch.testing.assert_close(losses, ce)


def test_pixel_losses_rejects_out_of_range_labels_and_bad_shapes():
    logits = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match="0..2"):
        pixel_losses(logits, torch.tensor([[[0, 3], [1, 2]]]))
    with pytest.raises(ValueError, match="do not match"):
        pixel_losses(logits, torch.zeros(1, 2, 3, dtype=torch.long))


# ---------------------------------------------------------------- theta_grid / theta_curve


def test_theta_grid_is_log_spaced():
    grid = theta_grid(1e-4, 1.0, 5)
    np.testing.assert_allclose(grid, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    with pytest.raises(ValueError):
        theta_grid(0.0, 1.0, 5)
    with pytest.raises(ValueError):
        theta_grid(1.0, 0.1, 5)


def small_case():
    # image A: counted pixels (truth and CAM both labelled) have losses
    #   0.005 right, 0.05 wrong (cam 1, truth 2), 0.5 right, 5.0 right;
    #   (1,1) has no CAM label and (1,2) no ground truth -> not counted
    loss_a = np.array([[0.005, 0.05, 0.5], [5.0, np.nan, 0.02]])
    cam_a = np.array([[1, 1, 2], [0, V, 2]], np.uint8)
    truth_a = np.array([[1, 2, 2], [0, 1, V]], np.uint8)
    # image B: 0.001 right, 0.2 wrong, and a NaN loss on a counted pixel (never kept)
    loss_b = np.array([[0.001, 0.2, np.nan]], np.float32)
    cam_b = np.array([[3, 3, 3]], np.int64)
    truth_b = np.array([[3, 0, 3]], np.uint8)
    return [loss_a, loss_b], [cam_a, cam_b], [truth_a, truth_b]


def test_theta_curve_hand_computed():
    losses, cams, truths = small_case()
    curve = theta_curve(losses, cams, truths, [0.01, 0.1, 1.0, 10.0])
    assert list(curve.columns) == ["theta", "accuracy", "coverage", "kept"]
    total = 7  # 4 counted pixels in A, 3 in B
    # θ=0.01: {0.005 ✓, 0.001 ✓}; θ=1: + 0.05 ✗, 0.5 ✓, 0.2 ✗; θ=10: + 5.0 ✓
    assert curve["kept"].tolist() == [2, 3, 5, 6]
    np.testing.assert_allclose(curve["accuracy"], [1.0, 2 / 3, 3 / 5, 4 / 6])
    np.testing.assert_allclose(curve["coverage"], [2 / total, 3 / total, 5 / total, 6 / total])
    assert np.all(np.diff(curve["coverage"]) >= 0)


def test_theta_curve_strict_inequality_and_empty_selection():
    losses, cams, truths = small_case()
    curve = theta_curve(losses, cams, truths, [1e-4, 0.5])
    assert curve["kept"].tolist() == [0, 4]  # a loss equal to θ (0.5) is not kept
    assert math.isnan(curve["accuracy"][0]) and curve["coverage"][0] == 0.0
    with pytest.raises(ValueError, match="strictly increasing"):
        theta_curve(losses, cams, truths, [1.0, 0.1])
    with pytest.raises(ValueError, match="one per image"):
        theta_curve(losses, cams[:1], truths, [1.0])


def test_theta_curve_matches_brute_force():
    rng = np.random.default_rng(1)
    losses, cams, truths = [], [], []
    for shape in [(20, 30), (17, 11)]:
        loss = rng.exponential(0.3, shape)
        loss[rng.random(shape) < 0.05] = np.nan
        cam = rng.integers(0, 4, shape)
        cam[rng.random(shape) < 0.1] = V
        truth = np.where(rng.random(shape) < 0.7, cam, rng.integers(0, 4, shape))
        truth[rng.random(shape) < 0.1] = V
        losses.append(loss)
        cams.append(cam)
        truths.append(truth)
    grid = theta_grid(1e-3, 3.0, 25)
    curve = theta_curve(losses, cams, truths, grid)

    loss = np.concatenate([x.ravel() for x in losses])
    cam = np.concatenate([x.ravel() for x in cams])
    truth = np.concatenate([x.ravel() for x in truths])
    counted = (truth != V) & (cam != V)
    for row in curve.itertuples():
        kept = counted & (loss < row.theta)
        assert row.kept == kept.sum()
        assert row.coverage == pytest.approx(kept.sum() / counted.sum())
        assert row.accuracy == pytest.approx((cam[kept] == truth[kept]).mean())


# ---------------------------------------------------------------- choose_theta


@pytest.fixture
def curve():
    # accuracy falls and coverage rises with θ, as in the paper's Fig. 5
    return pd.DataFrame(
        {
            "theta": [0.001, 0.01, 0.1, 1.0, 10.0],
            "accuracy": [0.99, 0.97, 0.95, 0.90, 0.70],
            "coverage": [0.10, 0.30, 0.50, 0.80, 1.00],
            "kept": [10, 30, 50, 80, 100],
        }
    )


def test_choose_theta_picks_largest_theta_meeting_accuracy(curve):
    choice = choose_theta(curve, min_accuracy=0.96)
    assert choice == {
        "theta": 0.01,
        "accuracy": 0.97,
        "coverage": 0.30,
        "rule": "max_coverage_at_min_accuracy",
        "reached": True,
        "min_accuracy": 0.96,
    }
    assert choose_theta(curve, min_accuracy=0.95)["theta"] == 0.1  # ≥, not >
    assert choose_theta(curve, min_accuracy=0.5)["theta"] == 10.0


def test_choose_theta_non_monotone_accuracy_and_nan_rows(curve):
    curve["accuracy"] = [np.nan, 0.96, 0.94, 0.97, 0.80]
    choice = choose_theta(curve, min_accuracy=0.95)
    assert choice["theta"] == 1.0 and choice["coverage"] == 0.8


def test_choose_theta_fallback_when_unreachable(curve):
    choice = choose_theta(curve, min_accuracy=0.995)
    assert choice["theta"] == 0.001 and choice["reached"] is False
    assert choice["rule"] == "max_accuracy_fallback"
    # ties on accuracy go to the larger coverage
    curve["accuracy"] = [0.9, 0.93, 0.93, 0.8, 0.7]
    choice = choose_theta(curve, min_accuracy=1.0)
    assert choice["theta"] == 0.1 and choice["coverage"] == 0.5


def test_choose_theta_fixed(curve):
    choice = choose_theta(curve, fixed=0.1)
    assert (choice["theta"], choice["accuracy"], choice["coverage"]) == (0.1, 0.95, 0.5)
    assert choice["rule"] == "fixed" and choice["reached"] is None
    # between grid points: linear in log θ
    mid = choose_theta(curve, fixed=math.sqrt(0.1 * 1.0), min_accuracy=0.95)
    assert mid["accuracy"] == pytest.approx(0.925) and mid["coverage"] == pytest.approx(0.65)
    assert mid["reached"] is False
    # beyond the grid: clamped to the end point
    assert choose_theta(curve, fixed=100.0)["coverage"] == 1.0


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "0.1", True])
def test_choose_theta_bad_fixed(curve, bad):
    with pytest.raises(ConfigError, match="detect.theta"):
        choose_theta(curve, fixed=bad)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, math.nan, "high"])
def test_choose_theta_bad_min_accuracy(curve, bad):
    with pytest.raises(ConfigError, match="detect.min_accuracy"):
        choose_theta(curve, min_accuracy=bad)


def test_choose_theta_needs_a_rule_and_a_usable_curve(curve):
    with pytest.raises(ConfigError, match="detect.theta"):
        choose_theta(curve)
    curve["accuracy"] = np.nan
    with pytest.raises(PixelnoiseError, match="keeps any"):
        choose_theta(curve, min_accuracy=0.9)


# ---------------------------------------------------------------- clean_mask / plot


def test_clean_mask_values():
    losses = np.array([[0.0005, 0.002, np.nan], [0.0001, 0.5, 0.0009]], np.float32)
    cams = np.array([[3, 4, 5], [V, 1, 0]], np.int64)
    mask = clean_mask(losses, cams, 1e-3)
    assert mask.dtype == np.uint8
    assert mask.tolist() == [[3, V, V], [V, V, 0]]


def test_clean_mask_theta_keeping_nothing_is_all_void():
    losses = np.full((3, 4), 0.5)
    cams = np.ones((3, 4), np.uint8)
    assert np.all(clean_mask(losses, cams, 1e-6) == V)
    assert np.all(clean_mask(np.full((3, 4), np.nan), cams, 10.0) == V)
    with pytest.raises(ValueError, match="differ"):
        clean_mask(losses, cams[:2], 1.0)


def test_end_to_end_small():
    logits = torch.tensor([[[[4.0, 0.0, -4.0]], [[0.0, 0.0, 4.0]]]])  # N=1, C=2, 1x3
    cam = torch.tensor([[[0, 0, 0]]])
    losses = pixel_losses(logits, cam)[0].numpy()
    truth = np.array([[0, 1, 1]], np.uint8)
    curve = theta_curve([losses], [cam[0].numpy()], [truth], theta_grid(1e-3, 10.0, 20))
    choice = choose_theta(curve, min_accuracy=1.0)
    # only the confident, correct pixel survives; the 0.69 and 8.0 losses are noise
    assert clean_mask(losses, cam[0].numpy(), choice["theta"]).tolist() == [[0, V, V]]


@pytest.mark.parametrize(
    "kwargs", [{"min_accuracy": 0.96}, {"min_accuracy": 0.999}, {"fixed": 0.3}]
)
def test_plot_theta_curve_writes_png(tmp_path, curve, kwargs):
    choice = choose_theta(curve, **kwargs)
    target = tmp_path / "plots" / "theta.png"
    plot_theta_curve(curve, choice, target)
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    assert [p.name for p in target.parent.iterdir()] == ["theta.png"]  # no temp leftovers
