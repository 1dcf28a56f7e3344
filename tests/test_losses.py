"""Shared losses against direct computations, and the GNN trainer's per-graph objective."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pixelnoise.gnn import GraphInput, correct_graphs, cross_entropy_objective
from pixelnoise.losses import graph_cross_entropy, per_graph_mean, void_cross_entropy

OPTIONS = dict(kind="gcn", backend="torch", mode="per_image", hidden=8, heads=1, dropout=0.0,
               lr=0.01, weight_decay=0.0, epochs=15, batch_size=4)  # fmt: skip


def test_void_cross_entropy_ignores_void_and_skips_all_void():
    logits = torch.randn(2, 3, 4, 5)
    targets = torch.randint(0, 3, (2, 4, 5))
    targets[0, 0] = 255
    expected = F.cross_entropy(logits, targets, ignore_index=255)
    assert torch.allclose(void_cross_entropy(logits, targets), expected)
    assert void_cross_entropy(logits, torch.full_like(targets, 255)) is None


def test_graph_cross_entropy_is_the_per_graph_mean_over_labelled_nodes():
    logits = torch.randn(5, 3)
    allowed = torch.tensor([[1, 1, 0]] * 3 + [[1, 0, 1]] * 2, dtype=torch.bool)
    labelled = torch.tensor([0, 2, 4])
    targets = torch.tensor([1, 0, 2])
    graph_of = torch.tensor([0, 0, 1])
    count = torch.tensor([2.0, 1.0])
    losses = graph_cross_entropy(logits, allowed, labelled, targets, graph_of, count)
    by_hand = []
    for node, target in zip(labelled.tolist(), targets.tolist(), strict=True):
        row = logits[node].masked_fill(~allowed[node], -torch.inf)
        by_hand.append(-torch.log_softmax(row, 0)[target])
    assert torch.allclose(losses, torch.stack([(by_hand[0] + by_hand[1]) / 2, by_hand[2]]))


def test_per_graph_mean_by_hand():
    values = torch.tensor([1.0, 2.0, 6.0])
    assert per_graph_mean(values, torch.tensor([1, 1, 0]), 2).tolist() == [6.0, 1.5]


def _graphs():
    rng = np.random.default_rng(0)
    graphs = []
    for k in range(3):
        n = 12 + k
        features = rng.normal(size=(n, 4)).astype(np.float32)
        edges = np.array([[i, i + 1] for i in range(n - 1)])
        labels = np.full(n, 255, np.uint8)
        labels[0], labels[-1] = 0, 2
        graphs.append(GraphInput(features, edges, labels, [0, 2]))
    return graphs


def test_the_default_objective_is_eq_9():
    graphs = _graphs()
    default = correct_graphs(graphs, num_classes=3, **OPTIONS)
    explicit = correct_graphs(graphs, num_classes=3, objective=cross_entropy_objective, **OPTIONS)
    for a, b in zip(default, explicit, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_custom_objective_is_trained_per_graph():
    """Eq. 9 plus a large entropy penalty on every node: predictions become confident, and each
    graph's loss reaches the trainer as one value per graph."""
    seen_shapes = []

    def sharpen(logits, chunk):
        loss = cross_entropy_objective(logits, chunk)
        probs = logits.masked_fill(~chunk.allowed, -torch.inf).softmax(1)
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1)
        penalty = per_graph_mean(entropy, chunk.batch.graph_of_node, chunk.batch.num_graphs)
        seen_shapes.append(tuple(loss.shape))
        return loss + 5.0 * penalty

    graphs = _graphs()
    plain = correct_graphs(graphs, num_classes=3, **OPTIONS)
    sharp = correct_graphs(graphs, num_classes=3, objective=sharpen, **OPTIONS)
    assert set(seen_shapes) == {(3,)} and len(seen_shapes) == OPTIONS["epochs"]

    def mean_entropy(results):
        probs = np.concatenate(results)[:, [0, 2]].clip(1e-12, 1)
        return float(-(probs * np.log(probs)).sum(1).mean())

    assert mean_entropy(sharp) < mean_entropy(plain)


def test_a_custom_optimiser_is_used():
    calls = []

    def sgd(model):
        calls.append(model)
        return torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the model stays at its init

    graphs = _graphs()
    frozen = correct_graphs(graphs, num_classes=3, optimizer=sgd, **OPTIONS)
    untrained = correct_graphs(graphs, num_classes=3, **{**OPTIONS, "epochs": 0})
    assert len(calls) == 1
    for a, b in zip(frozen, untrained, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_graph_loss_is_not_silently_finite_for_bad_logits(bad):
    logits = torch.tensor([[bad, 0.0]])
    loss = graph_cross_entropy(
        logits,
        torch.ones(1, 2, dtype=torch.bool),
        torch.tensor([0]),
        torch.tensor([1]),
        torch.tensor([0]),
        torch.tensor([1.0]),
    )
    assert not torch.isfinite(loss).all()
