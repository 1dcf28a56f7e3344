"""Fan et al.: the weighted selective training loss on hand-made tensors, the estimates, and
training data with several label maps per image."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelnoise.data.transforms import random_scale_flip_crop
from pixelnoise.estimates import crf_estimate, threshold_estimate
from pixelnoise.losses import selective_weights, weighted_selective_cross_entropy
from pixelnoise.methods import CHECKPOINT, LABEL_MAPS, REGISTRY
from pixelnoise.methods.fan import ESTIMATES, MULTI
from pixelnoise.metrics import VOID


def random_case(seed=0, n=2, c=4, k=3, h=5, w=6):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g)
    targets = torch.randint(0, c, (n, k, h, w), generator=g)
    return logits, targets


def test_the_papers_example_weights():
    """Two estimates disagree; the one matching the prediction gets e/(e+1) = 0.73."""
    log_probs = torch.tensor([[0.1, 2.0, 0.3]]).log_softmax(1)[..., None, None]  # predicts 1
    targets = torch.tensor([[2, 1]])[..., None, None]
    weights = selective_weights(log_probs, targets, 1.0).flatten()
    assert weights.tolist() == pytest.approx([1 / (np.e + 1), np.e / (np.e + 1)])
    assert round(weights[1].item(), 2) == 0.73 and round(weights[0].item(), 2) == 0.27


def test_sharpness_zero_is_exactly_the_plain_loss():
    logits, targets = random_case()
    plain = torch.stack([F.cross_entropy(logits, targets[:, k]) for k in range(3)]).mean()
    wst0 = weighted_selective_cross_entropy(logits, targets, 0.0)
    torch.testing.assert_close(wst0, plain, rtol=1e-6, atol=1e-6)
    # With s > 0 the estimates the network agrees with count more: a different value.
    assert abs(weighted_selective_cross_entropy(logits, targets, 1.0).item() - plain.item()) > 1e-4


def test_void_estimates_are_left_out_and_all_void_pixels_ignored():
    logits, targets = random_case(seed=1, n=1, k=2, h=1, w=3)
    targets[0, 1, 0, 0] = VOID  # pixel 0: only estimate 0
    targets[:, :, 0, 2] = VOID  # pixel 2: no estimate
    log_probs = logits.log_softmax(1)
    weights = selective_weights(log_probs, targets, 1.0)
    assert weights[0, :, 0, 0].tolist() == [1.0, 0.0]
    assert weights[0, :, 0, 2].tolist() == [0.0, 0.0]
    loss = weighted_selective_cross_entropy(logits, targets, 1.0)
    pixel0 = -log_probs[0, targets[0, 0, 0, 0], 0, 0]
    w = weights[0, :, 0, 1]
    pixel1 = -(w[0] * log_probs[0, targets[0, 0, 0, 1], 0, 1]
               + w[1] * log_probs[0, targets[0, 1, 0, 1], 0, 1])  # fmt: skip
    torch.testing.assert_close(loss, (pixel0 + pixel1) / 2)
    assert weighted_selective_cross_entropy(logits, torch.full_like(targets, VOID), 1.0) is None


def test_gradients_flow_only_through_the_prediction():
    """The weights depend on the prediction but are detached: the gradient equals that of the
    weighted cross-entropy with the weights held constant."""
    logits, targets = random_case(seed=2)
    logits.requires_grad_(True)
    weighted_selective_cross_entropy(logits, targets, 1.0).backward()
    weights = selective_weights(logits.detach().log_softmax(1), targets, 1.0)
    constant = logits.detach().clone().requires_grad_(True)
    chosen = constant.log_softmax(1).gather(1, targets)
    (-(weights * chosen).sum(1).mean()).backward()
    torch.testing.assert_close(logits.grad, constant.grad)


def test_crops_of_several_label_maps_stay_aligned():
    rng_image = np.random.default_rng(0)
    image = rng_image.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    stack = rng_image.integers(0, 5, (30, 40, 3), dtype=np.uint8)
    crops = []
    for k in range(3):
        _, labels = random_scale_flip_crop(np.random.default_rng(7), image, stack[..., k],
                                           scale_range=(0.7, 1.3), crop_size=48)  # fmt: skip
        crops.append(labels)
    _, together = random_scale_flip_crop(np.random.default_rng(7), image, stack,
                                         scale_range=(0.7, 1.3), crop_size=48)  # fmt: skip
    assert together.shape == (48, 48, 3)
    np.testing.assert_array_equal(together, np.stack(crops, axis=-1))
    _, single = random_scale_flip_crop(np.random.default_rng(7), image, stack[..., :1],
                                       scale_range=(0.7, 1.3), crop_size=48)  # fmt: skip
    assert single.shape == (48, 48, 1)


def test_estimates():
    cams = np.zeros((2, 6, 8), np.float32)
    cams[0, :, :4] = 0.9
    cams[1, :, 4:] = 0.5
    cams[:, 0, :] = 0.02  # the top row: weak everywhere
    t = threshold_estimate(cams, [3, 5], background=0, t_fg=0.1, t_bg=0.05)
    assert (t[0] == 0).all() and (t[1:, :4] == 3).all() and (t[1:, 4:] == 5).all()
    assert (threshold_estimate(cams, [3, 5], None, 0.1, 0.05)[0] == VOID).all()
    image = np.zeros((6, 8, 3), np.uint8)
    image[:, :4], image[:, 4:], image[0] = (200, 0, 0), (0, 0, 200), (0, 200, 0)
    crf = {"iterations": 5, "gaussian_sxy": 3, "gaussian_compat": 3, "bilateral_sxy": 50,
           "bilateral_srgb": 13, "bilateral_compat": 10}  # fmt: skip
    c = crf_estimate(image, cams, [3, 5], background=0, crf_background=0.3, crf=crf)
    assert set(np.unique(c)) <= {0, 3, 5} and (c != VOID).all()
    assert (c[3:, :3] == 3).all() and (c[3:, 5:] == 5).all()
    only = crf_estimate(image, cams[:1], [3], background=None, crf_background=0.3, crf=crf)
    assert (only == 3).all()


def test_the_family_in_the_registry():
    assert len(ESTIMATES) == 12 and set(ESTIMATES) <= set(REGISTRY.names(LABEL_MAPS))
    for name, (estimates, weighted) in MULTI.items():
        method = REGISTRY.get(name, CHECKPOINT)
        assert method.upstream() == [f"{LABEL_MAPS}:{e}" for e in estimates]
        assert method.options["weighted"] is weighted and method.options["labels"] == "estimates"
        assert not REGISTRY.reads_weak_masks(name, CHECKPOINT)
    assert REGISTRY.get("fan_c_second_s075", LABEL_MAPS).consumes == ("cams_second_s075",)
