"""Label propagation on the superpixel graph, without learning: the baseline that tells whether
the GNN's training earns its place (Yi et al. Sec. III-C ablation; Zhou et al., *Learning with
Local and Global Consistency*, 2004).

Iterates ``F <- alpha * S F + (1 - alpha) * Y`` with ``S = D^-1/2 W D^-1/2`` over the graph's
pruned, weighted edges (eq. 3-4, the same graph the GNN sees), ``Y`` the one-hot clean node
labels, and normalises ``F`` over the image's classes; a node that no label reaches gets the
uniform distribution over them. NumPy and SciPy only.

>>> edges, weights = np.array([[0, 1], [1, 2], [2, 3]]), np.ones(3, np.float32)
>>> probs = propagate(edges, weights, np.array([0, 255, 255, 1], np.uint8), [0, 1], 2,
...                   alpha=0.9, iterations=50)
>>> probs.argmax(1).tolist(), bool(np.allclose(probs.sum(1), 1))
([0, 0, 1, 1], True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from pixelnoise.graphs import VOID
from pixelnoise.supervision import supervised_graphs


def propagate(
    edges: np.ndarray,
    weights: np.ndarray,
    labels: np.ndarray,
    allowed: Sequence[int],
    num_classes: int,
    *,
    alpha: float,
    iterations: int,
) -> np.ndarray | None:
    """``N x num_classes`` probabilities, zero outside ``allowed``; None without any label."""
    n = len(labels)
    labelled = np.flatnonzero(labels != VOID)
    if labelled.size == 0:
        return None
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.asarray(weights, dtype=np.float64)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = sp.csr_matrix((np.concatenate([w, w]), (rows, cols)), shape=(n, n))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    normalised = sp.diags(scale) @ adjacency @ sp.diags(scale)
    seeds = np.zeros((n, num_classes))
    seeds[labelled, labels[labelled].astype(np.int64)] = 1.0
    spread = seeds.copy()
    for _ in range(iterations):
        spread = alpha * (normalised @ spread) + (1.0 - alpha) * seeds
    mask = np.zeros(num_classes, dtype=bool)
    mask[np.asarray(allowed, dtype=np.int64)] = True
    spread[:, ~mask] = 0.0
    total = spread.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum()
    return np.where(total > 0, spread / np.where(total > 0, total, 1.0), uniform).astype(np.float32)


def correct(method, inputs, ids: list[str], *, cfg: dict, seed: int, device: str):
    """A correction run (registry ``node_probabilities``) by propagation; ``seed`` and
    ``device`` are unused (deterministic, CPU)."""
    rows, probabilities = [], []
    for graph, labels, row in supervised_graphs(method, inputs, ids, cfg):
        allowed = inputs.run.allowed_classes(row["image_id"])
        probabilities.append(
            propagate(
                graph.edges,
                graph.weights,
                labels,
                allowed,
                inputs.run.num_classes,
                alpha=cfg["propagation_alpha"],
                iterations=cfg["propagation_iterations"],
            )
        )
        rows.append(row)
    return rows, probabilities
