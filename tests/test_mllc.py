"""MLLC's graph pieces against dense reference computations on small tensors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelnoise.mllc import (
    Prototypes,
    class_graph_product,
    class_thresholds,
    contrastive_loss,
    dynamic_weighted_cross_entropy,
    knn_affinity,
    mix_by_confidence,
    pairwise_affinity_loss,
    prototype_loss,
)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_knn_graph_and_its_normalisation_match_a_dense_reference():
    x = torch.randn(12, 5, generator=generator())
    k = 3
    unit = F.normalize(x, dim=1)
    cosine = unit @ unit.T
    dense = torch.zeros(12, 12)
    for i in range(12):
        others = [j for j in range(12) if j != i]
        best = sorted(others, key=lambda j: -cosine[i, j])[:k]
        for j in best:
            dense[i, j] = cosine[i, j].clamp_min(0)
    symmetric = dense + dense.T
    degree = symmetric.sum(1)
    scale = torch.where(degree > 0, degree.rsqrt(), torch.zeros_like(degree))
    reference = scale[:, None] * symmetric * scale[None, :]
    torch.testing.assert_close(knn_affinity(x, k).to_dense(), reference, rtol=1e-5, atol=1e-6)
    assert knn_affinity(x[:1], k).to_dense().tolist() == [[0.0]]  # one node: no neighbour


def test_knn_graph_product_and_its_gradient_match_the_dense_matrix():
    x = torch.randn(30, 8, generator=generator(3))
    graph = knn_affinity(x, 4)
    dense = graph.to_dense()
    values = torch.randn(30, 5, generator=generator(4), requires_grad=True)
    (graph @ values).pow(2).sum().backward()
    graph_grad, values.grad = values.grad, None
    (dense @ values).pow(2).sum().backward()
    torch.testing.assert_close(graph @ values, dense @ values)
    torch.testing.assert_close(graph_grad, values.grad)
    torch.testing.assert_close(dense, dense.T)
    assert (dense.count_nonzero(1) >= 4).all()


def test_class_level_product_blockwise_equals_the_dense_matrix():
    probs = torch.softmax(torch.randn(15, 4, generator=generator(1)) * 2, 1)
    values = torch.randn(15, 6, generator=generator(2))
    winner = probs.argmax(1)
    same = winner[:, None] == winner[None, :]
    w_hat = torch.where(same, probs @ probs.T, torch.zeros(15, 15))
    w_hat.fill_diagonal_(1.0)
    degree = w_hat.sum(1)
    w = degree.rsqrt()[:, None] * w_hat * degree.rsqrt()[None, :]
    torch.testing.assert_close(class_graph_product(probs, values), w @ values)


def test_thresholds_with_all_zero_counts_and_the_warm_up():
    uncertain = torch.full((6, 3), 1 / 3)
    assert class_thresholds(uncertain, 0.95, 3).tolist() == [0.0, 0.0, 0.0]
    probs = torch.tensor([[0.99, 0.01, 0.0]] * 2 + [[0.01, 0.98, 0.01]] + [[0.5, 0.5, 0.0]] * 7)
    thresholds = class_thresholds(probs, 0.95, 3)
    # 3 confident nodes, 7 not yet: the warm-up denominator (7) keeps the thresholds low.
    torch.testing.assert_close(thresholds, torch.tensor([0.95 * 2 / 7, 0.95 / 7, 0.0]))
    learnt = torch.tensor([[0.99, 0.01, 0.0]] * 8 + [[0.01, 0.98, 0.01]] * 2)
    torch.testing.assert_close(class_thresholds(learnt, 0.95, 3), torch.tensor([0.95, 0.2375, 0.0]))


def test_mixing_by_confidence():
    propagated, previous = torch.ones(2, 3), torch.zeros(2, 3)
    mixed = mix_by_confidence(propagated, previous, torch.tensor([True, False]), alpha=0.2)
    assert mixed[:, 0].tolist() == pytest.approx([0.2, 0.8])


def test_prototypes_are_an_exponential_moving_average():
    bank = Prototypes(num_classes=3, dim=2, beta=0.9)
    bank.update(torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.tensor([0, 0]))
    assert bank.vectors[0].tolist() == [2.0, 0.0] and bank.seen.tolist() == [True, False, False]
    bank.update(torch.tensor([[0.0, 1.0], [4.0, 0.0]]), torch.tensor([1, 0]))
    assert bank.vectors[0].tolist() == pytest.approx([0.9 * 2.0 + 0.1 * 4.0, 0.0])
    assert bank.vectors[1].tolist() == [0.0, 1.0] and bank.seen.tolist() == [True, True, False]


def test_contrastive_terms_match_their_definitions():
    features = F.normalize(torch.randn(9, 4, generator=generator(3)), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 1])
    images = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2])
    s = features @ features.T
    same = (labels[:, None] == labels[None, :]).float()
    within = images[:, None] == images[None, :]  # eq. 12's Y_ij: pairs of one image only
    direct = (same * (s - 1) ** 2 + (1 - same) * s**2)[within].mean()
    torch.testing.assert_close(pairwise_affinity_loss(features, labels, images), direct)
    one_image = (same * (s - 1) ** 2 + (1 - same) * s**2).mean()
    torch.testing.assert_close(pairwise_affinity_loss(features, labels), one_image)
    bank = Prototypes(3, 4, beta=0.99)
    bank.update(features[:5], labels[:5])  # classes 0 and 1 have prototypes, 2 not yet
    logits = features @ bank.vectors.T / 0.1
    known = labels != 2
    expected = F.cross_entropy(logits[known][:, :2], labels[known])
    torch.testing.assert_close(prototype_loss(features, labels, bank, 0.1), expected)
    total = contrastive_loss(features * 3.0, labels, bank, lam=0.5, tau=0.1, images=images)
    torch.testing.assert_close(total, 0.5 * direct + 0.5 * expected)


def test_a_pair_from_two_images_adds_nothing_to_the_pairwise_term():
    """Eq. 12's Y_ij is defined for the pixels of one image: however the features of a second
    image sit against the first's, the pairwise term is the mean of each image's own pairs."""
    gen = generator(4)
    first, second = (F.normalize(torch.randn(5, 3, generator=gen), dim=1) for _ in range(2))
    labels = torch.tensor([0, 1, 1, 0, 2])
    images = torch.tensor([0] * 5 + [1] * 5)
    alone = (pairwise_affinity_loss(first, labels) + pairwise_affinity_loss(second, labels)) / 2
    for turned in (second, -second, second[:, [1, 2, 0]]):
        both = pairwise_affinity_loss(torch.cat([first, turned]), labels.repeat(2), images)
        if turned is second:
            torch.testing.assert_close(both, alone)
        else:  # moving image 2 against image 1 changes only cross-image pairs: nothing
            same = pairwise_affinity_loss(torch.cat([first, second]), labels.repeat(2), images)
            torch.testing.assert_close(both, same)


def test_dynamic_weighted_cross_entropy_weights_by_detached_confidence():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]], requires_grad=True)
    targets = torch.tensor([0, 1])
    loss = dynamic_weighted_cross_entropy(logits.log_softmax(1), targets)
    loss.backward()
    # The weights are constants: loss and gradient are those of the CE with fixed weights.
    fixed = logits.detach().clone().requires_grad_(True)
    log_probs = fixed.log_softmax(1)
    weights = log_probs.detach().exp()[[0, 1], [0, 1]]
    expected = -(weights * log_probs[[0, 1], [0, 1]]).mean()
    expected.backward()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(logits.grad, fixed.grad)


SETTINGS = {"ema": 0.5, "knn": 5, "sigma": 0.95, "alpha": 0.2, "pair_weight": 0.5,
            "temperature": 0.1, "prototype_momentum": 0.99, "contrastive_weight": 0.1,
            "unsupervised_weight": 1.0, "use_image_labels": True, "cutmix_probability": 0.5,
            "jitter_probability": 0.8}  # fmt: skip


def tiny_model(seed=0):
    from pixelnoise.models.deeplab import SegmentationNet
    from pixelnoise.training.mllc import MllcNet

    torch.manual_seed(seed)
    return MllcNet(SegmentationNet("resnet_tiny", 3, 8, "aspp"), 3, embed_dim=16, rounds=2)


def test_one_training_step_trains_every_part_and_the_teacher_follows():
    from torch.utils.data import default_collate

    from pixelnoise.training.mllc import SemiSupervisedPairs, mllc_step

    rng = np.random.default_rng(0)
    images = {f"i{k}": rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for k in range(6)}
    masks = {k: rng.integers(0, 3, (40, 48)).astype(np.uint8) for k in ("i0", "i1")}
    cfg = {"scale_range": (0.8, 1.2), "crop_size": 32, "cache_images": True}
    data = SemiSupervisedPairs(["i0", "i1"], ["i2", "i3", "i4", "i5"], images.__getitem__,
                               masks.__getitem__, lambda i: [0, 2], 3, cfg, seed=0)  # fmt: skip
    batch = default_collate([data[i] for i in range(4)])
    assert batch[0].shape == (4, 3, 32, 32) and batch[4][0].tolist() == [True, False, True]
    model = tiny_model()
    step = mllc_step(model, SETTINGS, seed=0, graphs=True)
    loss, _, _ = step(model, batch, "cpu")
    assert torch.isfinite(loss)
    loss.backward()
    for part in (model.embed, model.class_rounds, model.sample_rounds, model.segmentation):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    first = next(iter(model.parameters()))
    with torch.no_grad():
        first.add_(1.0)
    old = next(iter(step.teacher.parameters())).clone()
    step(model, batch, "cpu")  # the next step first moves the teacher halfway (ema 0.5)
    new = next(iter(step.teacher.parameters()))
    torch.testing.assert_close(new, 0.5 * old + 0.5 * first.detach())


def test_f_s_is_linear_batch_norm_relu():
    """reference-details (f): f_C is Linear + softmax, f_S Linear + BN + ReLU, per round; the
    embedding head a Conv-BN-ReLU block (Sec. IV-A) mapping to the embedding space."""
    model = tiny_model()
    nn = torch.nn
    assert [type(m) for m in model.embed] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert len(model.sample_rounds) == 2
    for f_s in model.sample_rounds:
        assert [type(m) for m in f_s] == [torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU]


def student_nodes(n=40, seed=5):
    gen = generator(seed)
    x_c = torch.randn(n, 3, generator=gen).mul(2).softmax(1)
    x_s = torch.randn(n, 16, generator=gen)
    return x_c, x_s, torch.arange(n) // (n // 2)


def test_prototypes_are_one_set_per_round_and_labelled_truth_moves_them():
    """Eq. 13-14: round k's prototypes are class means of round k's features, from the ground
    truth of the labelled images (here the only class-2 pixels) and Ŷ of the unlabelled."""
    from pixelnoise.training.mllc import dual_graph_losses

    model = tiny_model()
    x_c, x_s, images = student_nodes()
    corrected = torch.zeros(len(x_c), dtype=torch.long)  # every unlabelled node: class 0
    gen = generator(7)
    labelled = (torch.randn(12, 3, generator=gen).softmax(1), torch.randn(12, 16, generator=gen),
                torch.full((12,), 2))  # fmt: skip
    banks = [Prototypes(3, 16, 0.99) for _ in range(2)]
    dual_graph_losses(model, banks, x_c, x_s, corrected, images, SETTINGS, labelled=labelled)
    for bank in banks:
        assert bank.seen.tolist() == [True, False, True]
    assert not torch.allclose(banks[0].vectors[2], banks[1].vectors[2])
    without = [Prototypes(3, 16, 0.99) for _ in range(2)]
    dual_graph_losses(model, without, x_c, x_s, corrected, images, SETTINGS)
    assert without[0].seen.tolist() == [True, False, False]


def test_the_weighted_ce_uses_the_students_strong_view_rounds():
    """Eq. 15-16: round k's term is -mean(ω log P_k[Ŷ]) with P_k the student's round-k output
    on the strong view and ω = P_k[Ŷ] detached; the teacher enters through Ŷ alone."""
    from pixelnoise.training.mllc import dual_graph_losses, graph_rounds

    model = tiny_model()
    x_c, x_s, images = student_nodes()
    corrected = torch.randint(0, 3, (len(x_c),), generator=generator(8))
    settings = {**SETTINGS, "contrastive_weight": 0.0}
    banks = [Prototypes(3, 16, 0.99) for _ in range(2)]
    loss = dual_graph_losses(model, banks, x_c, x_s, corrected, images, settings)
    rounds_c, _ = graph_rounds(model, x_c, x_s, settings)
    expected = sum(dynamic_weighted_cross_entropy(p.clamp_min(1e-8).log(), corrected)
                   for p in rounds_c)  # fmt: skip
    torch.testing.assert_close(loss, expected)


def padded_batch(inside_rows: int):
    """A batch of two D_c and two D_n 32 x 32 crops; the D_n crops are the image in their top
    ``inside_rows`` rows and padding below."""
    gen = generator(6)
    image_l, weak, strong = (torch.rand(2, 3, 32, 32, generator=gen) for _ in range(3))
    mask = torch.randint(0, 3, (2, 32, 32), generator=gen)
    inside = torch.zeros(2, 32, 32, dtype=torch.bool)
    inside[:, :inside_rows] = True
    allowed = torch.ones(2, 3, dtype=torch.bool)
    return image_l, mask, weak, strong, allowed, torch.full_like(mask, 255), inside


def test_padding_pixels_are_no_graph_nodes_and_no_loss_targets(monkeypatch):
    from pixelnoise.losses import void_cross_entropy
    from pixelnoise.training import mllc as training

    model = tiny_model()
    model.eval()  # batch norm by running statistics: losses comparable across batches
    settings = {**SETTINGS, "cutmix_probability": 0.0}
    seen = []
    real = training.dual_graph_losses
    monkeypatch.setattr(training, "dual_graph_losses",
                        lambda *a, **k: seen.append(len(a[2])) or real(*a, **k))  # fmt: skip
    step = training.mllc_step(model, settings, seed=0, graphs=True)
    step(model, padded_batch(16), "cpu")
    assert seen == [2 * 2 * 4]  # stride 8: 4 x 4 cells per crop, the top 2 rows inside
    for graphs in (True, False):
        step = training.mllc_step(model, settings, seed=0, graphs=graphs)
        batch = padded_batch(0)
        loss, _, _ = step(model, batch, "cpu")
        with torch.no_grad():
            supervised = void_cross_entropy(model(batch[0]), batch[1])
        torch.testing.assert_close(loss.detach(), supervised)


def test_the_weak_view_marks_its_padding():
    from pixelnoise.training.mllc import SemiSupervisedPairs

    rng = np.random.default_rng(1)
    images = {f"i{k}": rng.integers(0, 255, (20, 24, 3), dtype=np.uint8) for k in range(3)}
    cfg = {"scale_range": (1.0, 1.0), "crop_size": 32, "cache_images": False}
    data = SemiSupervisedPairs(["i0"], ["i1", "i2"], images.__getitem__,
                               lambda i: np.zeros((20, 24), np.uint8), lambda i: [0], 3, cfg,
                               seed=0)  # fmt: skip
    inside = data[0][6]
    assert inside.dtype == torch.bool and int(inside.sum()) == 20 * 24
    rows, columns = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    assert len(rows) == 20 and len(columns) == 24  # one block: the image, unscaled


def test_cutmix_and_the_colour_jitter_have_unimatchs_probabilities():
    from pixelnoise.data.transforms import photometric_jitter
    from pixelnoise.training.mllc import cutmix

    rng = np.random.default_rng(0)
    _, boxes = cutmix(rng, 32, 2000, 0.5)
    area = boxes.float().mean((1, 2))
    assert abs(float((area > 0).float().mean()) - 0.5) < 0.04
    assert float(area.max()) <= 0.4 and float(area[area > 0].min()) > 0.005
    assert not cutmix(rng, 32, 50, 0.0)[1].any() and cutmix(rng, 32, 50, 1.0)[1].any((1, 2)).all()
    grey = np.full((6, 6, 3), 100, np.uint8)  # greyscale and blur leave a grey image unchanged
    unchanged = np.mean([(photometric_jitter(rng, grey, 0.8) == grey).all() for _ in range(2000)])
    assert 0.17 < unchanged < 0.26  # no jitter 20 % of the time (+ ~1 % jitter by ~1.0)
    assert np.mean([(photometric_jitter(rng, grey) == grey).all() for _ in range(200)]) < 0.05


def test_extra_labels_add_the_cross_entropy_of_the_weak_views():
    """mllc_yi: with the pseudo labels of D_n, the step's loss grows by exactly the
    cross-entropy of the student's prediction on the weak views (batch norm frozen, so that the
    prediction does not depend on the batch)."""
    from pixelnoise.losses import void_cross_entropy
    from pixelnoise.training.mllc import mllc_step

    model = tiny_model()
    model.eval()
    gen = generator(6)
    image_l, weak, strong = (torch.rand(2, 3, 32, 32, generator=gen) for _ in range(3))
    mask = torch.randint(0, 3, (2, 32, 32), generator=gen)
    allowed = torch.ones(2, 3, dtype=torch.bool)
    labels = torch.randint(0, 3, (2, 32, 32), generator=gen)
    labels[:, :8] = 255  # void rows stay ignored
    inside = torch.ones(2, 32, 32, dtype=torch.bool)
    settings = {**SETTINGS, "ema": 0.99, "use_image_labels": False}

    def loss(extra):
        step = mllc_step(model, settings, seed=0, graphs=True)
        return step(model, (image_l, mask, weak, strong, allowed, extra, inside), "cpu")[0]

    without = loss(torch.full_like(labels, 255))
    with torch.no_grad():
        expected = void_cross_entropy(model(weak), labels)
    torch.testing.assert_close(loss(labels) - without, expected, rtol=1e-4, atol=1e-5)
