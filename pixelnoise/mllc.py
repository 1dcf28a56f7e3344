"""MLLC's dual-graph label correction (Xiao et al. Sec. III-B-D), the pieces that work on the
unlabelled pixels of a batch: ``n`` nodes, each with an embedding (semantic level) and a class
probability vector (class level). Only the neighbour search forms an ``n x n`` matrix (of
similarities, to pick neighbours): the sample-level graph is kept as neighbour lists, and the
class-level graph and the pairwise contrastive term are evaluated class block by class block
through ``C x d`` sums.

>>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
>>> knn_affinity(x, k=1).to_dense().round(decimals=3)
tensor([[0.0000, 0.9730, 0.0000],
        [0.9730, 0.0000, 0.2290],
        [0.0000, 0.2290, 0.0000]])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class KnnGraph:
    """Eq. 4-5's ``A = D^-1/2 (Â + Â^T) D^-1/2`` kept as neighbour lists (``Â`` has ``k``
    entries per row): ``A @ values`` costs ``n k d`` through a gather and a scatter, with no
    sparse-matrix coalescing. ``scale`` is ``D^-1/2``, 0 for a node without positive affinity."""

    neighbours: torch.Tensor  # n x k column indices of Â's rows
    weights: torch.Tensor  # n x k values of Â's rows
    scale: torch.Tensor  # n

    def __matmul__(self, values: torch.Tensor) -> torch.Tensor:
        scaled = self.scale[:, None] * values
        n, k = self.neighbours.shape
        # index_select, not indexing: its backward is a fast index_add, not an index_put.
        picked = scaled.index_select(0, self.neighbours.reshape(-1)).view(n, k, scaled.shape[1])
        rows = (self.weights[:, :, None] * picked).sum(1)  # Â y
        spread = self.weights.reshape(-1, 1) * scaled.repeat_interleave(k, 0)
        columns = torch.zeros_like(scaled).index_add_(0, self.neighbours.reshape(-1), spread)
        return self.scale[:, None] * (rows + columns)  # Â^T y: the scatter of Â's rows

    def to_dense(self) -> torch.Tensor:
        return self @ torch.eye(len(self.scale), dtype=self.weights.dtype,
                                device=self.weights.device)  # fmt: skip


def knn_affinity(features: torch.Tensor, k: int, gamma: float = 1.0) -> KnnGraph:
    """Eq. 4-5: ``A = D^-1/2 (Â + Â^T) D^-1/2``, where ``Â_ij = [cos(x_i, x_j)]_+^gamma`` for
    the ``k`` nearest neighbours ``j != i`` of ``i`` (by cosine) and 0 elsewhere. A node without
    positive affinity keeps a zero row (no division by 0)."""
    n = features.shape[0]
    k = max(min(k, n - 1), 0)
    unit = F.normalize(features, dim=1)
    cosine = unit @ unit.T  # n x n (n ~ a few 1000): the affinities need no n x k x d gather
    cosine.fill_diagonal_(-torch.inf)
    nearest = cosine.topk(k, dim=1)
    neighbours, weights = nearest.indices, nearest.values.clamp_min(0) ** gamma
    degree = weights.sum(1).index_add(0, neighbours.reshape(-1), weights.reshape(-1))
    scale = torch.where(degree > 0, degree.clamp_min(1e-12).rsqrt(), torch.zeros_like(degree))
    return KnnGraph(neighbours, weights, scale)


def class_graph_product(probs: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Eq. 6-7 applied to ``values`` (n x d): ``W @ values`` with ``W = D^-1/2 Ŵ D^-1/2``, where
    ``Ŵ_ii = 1``, ``Ŵ_ij = p_i . p_j`` when ``i`` and ``j`` predict the same class, else 0.

    Per class block B (the nodes predicting that class): ``Ŵ_B = P_B P_B^T - diag(p.p) + I``,
    so ``d_B = P_B (sum_B p) - p.p + 1`` and ``Ŵ_B y = P_B (P_B^T y) + (1 - p.p) * y``: every
    product goes through a ``C x d`` matrix, never an ``n x n`` one. The nodes are sorted by
    class once, so that the blocks are contiguous slices rather than indexed copies.
    """
    winner = probs.argmax(1)
    order = winner.argsort()
    sizes = torch.bincount(winner).tolist()
    blocks = []
    for p, y in zip(probs[order].split(sizes), values[order].split(sizes), strict=True):
        self_dot = (p * p).sum(1)
        scale = (p @ p.sum(0) - self_dot + 1.0).rsqrt()[:, None]
        scaled = scale * y
        blocks.append(scale * (p @ (p.T @ scaled) + (1.0 - self_dot)[:, None] * scaled))
    return torch.cat(blocks)[order.argsort()]


def class_thresholds(probs: torch.Tensor, sigma: float, num_classes: int) -> torch.Tensor:
    """Eq. 9 (FlexMatch): ``eta_c = sigma * delta_c / max(max_c delta_c, n - sum_c delta_c)``,
    ``delta_c`` the number of nodes predicting ``c`` with confidence above ``sigma``. The
    second term of the denominator (FlexMatch's warm-up: the nodes no class has learnt yet)
    keeps early thresholds low and makes all-zero counts give zero thresholds, never NaN.

    >>> class_thresholds(torch.tensor([[0.97, 0.03], [0.6, 0.4]]), 0.95, 2).tolist()
    [0.949999988079071, 0.0]
    """
    confidence, winner = probs.max(1)
    counts = torch.bincount(winner[confidence > sigma], minlength=num_classes).float()
    unused = probs.shape[0] - counts.sum()
    return sigma * counts / torch.maximum(counts.max(), unused).clamp_min(1.0)


def mix_by_confidence(
    propagated: torch.Tensor, previous: torch.Tensor, confident: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Eq. 10: confident nodes take ``alpha`` of the propagated prediction and ``1 - alpha``
    of their own; the others the reverse."""
    weight = torch.where(confident, alpha, 1.0 - alpha)[:, None]
    return weight * propagated + (1.0 - weight) * previous


class Prototypes:
    """Class prototypes as exponential moving averages (eq. 13-14): ``p_c <- beta p_c + (1 -
    beta) mean_c`` of the features labelled ``c`` in a batch; a class seen for the first time
    starts at its batch mean. ``vectors`` is ``C x d``; ``seen`` marks classes with a value."""

    def __init__(self, num_classes: int, dim: int, beta: float):
        self.beta = beta
        self.vectors = torch.zeros(num_classes, dim)
        self.seen = torch.zeros(num_classes, dtype=torch.bool)

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        features = features.detach().to(self.vectors)
        labels = labels.to(self.vectors.device)
        sums = torch.zeros_like(self.vectors).index_add_(0, labels, features)
        counts = torch.bincount(labels, minlength=len(self.vectors))
        present = counts > 0
        means = sums[present] / counts[present, None]
        old = self.seen[present]
        mixed = self.beta * self.vectors[present] + (1 - self.beta) * means
        self.vectors[present] = torch.where(old[:, None], mixed, means)
        self.seen |= present


def _pair_sum(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Sum over all ordered pairs of ``(s_ij - 1)^2`` (same label) or ``s_ij^2`` (otherwise):
    ``||V^T V||_F^2 - 2 sum_c ||sum_{i in c} v_i||^2 + sum_c n_c^2``, no pair matrix."""
    gram = features.T @ features
    class_sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype,
                             device=features.device).index_add_(0, labels, features)  # fmt: skip
    counts = torch.bincount(labels, minlength=num_classes).to(features.dtype)
    return (gram * gram).sum() - 2 * (class_sums * class_sums).sum() + (counts * counts).sum()


def pairwise_affinity_loss(
    features: torch.Tensor, labels: torch.Tensor, images: torch.Tensor | None = None
) -> torch.Tensor:
    """The first term of eq. 12, averaged over the pairs of nodes *of one image* (``images``:
    each node's image; ``Y_ij`` is defined within an image, so a pair from two images adds
    nothing): ``(s_ij - 1)^2`` for pairs of the same label and ``s_ij^2`` otherwise, ``s_ij =
    v_i . v_j`` (unit vectors). ``images=None``: all nodes are of one image."""
    if images is None:
        images = torch.zeros_like(labels)
    num_classes = int(labels.max()) + 1
    total, pairs = features.new_zeros(()), 0
    for image in torch.unique(images):
        mine = images == image
        total = total + _pair_sum(features[mine], labels[mine], num_classes)
        pairs += int(mine.sum()) ** 2
    return total / pairs


def prototype_loss(
    features: torch.Tensor, labels: torch.Tensor, prototypes: Prototypes, tau: float
) -> torch.Tensor:
    """The second term of eq. 12: cross-entropy of ``softmax_c(v . p_c / tau)`` against each
    node's label, over the classes that have a prototype (mean over nodes whose class has)."""
    seen = prototypes.seen.to(features.device)
    known = seen[labels]
    if not bool(known.any()):
        return features.sum() * 0.0
    logits = features @ prototypes.vectors.to(features).T / tau
    logits = logits.masked_fill(~seen, -torch.inf)
    return F.cross_entropy(logits[known], labels[known])


def contrastive_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    prototypes: Prototypes,
    lam: float,
    tau: float,
    images: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 12: ``lam * pairwise + (1 - lam) * prototype`` on unit-normalised features (pairs
    within each image of ``images``)."""
    unit = F.normalize(features, dim=1)
    return lam * pairwise_affinity_loss(unit, labels, images) + (1 - lam) * prototype_loss(
        unit, labels, prototypes, tau
    )


def dynamic_weighted_cross_entropy(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. 15-16: each node's cross-entropy weighted by the (detached) probability the strong
    view gives its corrected label, ``omega = P[ŷ]``; mean over nodes."""
    chosen = log_probs.gather(1, targets[:, None])[:, 0]
    return -(chosen.detach().exp() * chosen).mean()
