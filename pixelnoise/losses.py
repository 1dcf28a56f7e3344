"""Losses shared between training loops and method families.

Pixel losses take ``N x C x H x W`` logits and ``N x H x W`` targets with ``VOID`` (255) for
"no label"; graph losses take node logits of a block-diagonal batch and return one value per
graph, so that per-image models stay independent when their losses are summed.

>>> logits = torch.zeros(1, 2, 1, 2)
>>> round(float(void_cross_entropy(logits, torch.tensor([[[0, 255]]]))), 4)
0.6931
>>> void_cross_entropy(logits, torch.full((1, 1, 2), 255)) is None
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelnoise.metrics import VOID


def void_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Mean cross-entropy over the labelled pixels; ``None`` when every pixel is void (the
    batch carries no signal, and the training loop skips it)."""
    if not bool((targets != VOID).any()):
        return None
    return F.cross_entropy(logits, targets, ignore_index=VOID)


def restrict_to_classes(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Logits with every class a node may not take set to ``-inf`` (``allowed``: ``N x C`` bool)."""
    return logits.masked_fill(~allowed, -torch.inf)


def per_graph_mean(
    values: torch.Tensor, graph_of: torch.Tensor, num_graphs: int, *, empty: float = float("nan")
) -> torch.Tensor:
    """Mean of ``values`` (one per item) over the items of each graph; ``empty`` (NaN unless
    given) for a graph with none. ``empty=0`` drops a term that has no items from a sum, with a
    finite gradient (a 0/0 would give NaN gradients even where masked out).

    >>> per_graph_mean(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 2]), 3).tolist()
    [2.0, nan, 5.0]
    """
    total = values.new_zeros(num_graphs).index_add_(0, graph_of, values)
    count = values.new_zeros(num_graphs).index_add_(0, graph_of, torch.ones_like(values))
    return torch.where(count > 0, total / count.clamp_min(1), empty)


def node_entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy ``-sum_c q_c log q_c`` of each row of log-probabilities (``-inf`` entries,
    i.e. classes a node may not take, contribute 0).

    >>> [round(v, 4) for v in node_entropy(torch.tensor([[0.5, 0.5], [0.0, 1.0]]).log()).tolist()]
    [0.6931, 0.0]
    """
    probs = log_probs.exp()
    return (probs * -log_probs.masked_fill(probs == 0, 0.0)).sum(1) + 0.0  # + 0.0: no -0.0


def pairwise_affinity_matrix(
    src: torch.Tensor, dst: torch.Tensor, affinity: torch.Tensor, num_nodes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The symmetric sparse ``Phi`` (``num_nodes`` square, COO) of undirected pairs ``(src,
    dst)`` with weights ``affinity`` (each pair once), and each node's degree ``sum_j Phi_ij``:
    what :func:`laplacian_energy` needs, built once per batch of graphs."""
    index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    matrix = torch.sparse_coo_tensor(
        index, torch.cat([affinity, affinity]), (num_nodes, num_nodes)
    ).coalesce()
    degree = affinity.new_zeros(num_nodes).index_add_(0, src, affinity).index_add_(0, dst, affinity)
    return matrix, degree


def laplacian_energy(
    values: torch.Tensor,
    matrix: torch.Tensor,
    degree: torch.Tensor,
    graph_of_node: torch.Tensor,
    num_graphs: int,
) -> torch.Tensor:
    """``tr(Q^T L Q)`` per graph, ``L = D - Phi`` (:func:`pairwise_affinity_matrix`), equal to the
    sum over the undirected pairs of ``Phi_ij ||q_i - q_j||^2``. Computed as ``sum_i q_i . (L
    Q)_i`` with one sparse product: gathering both ends of every pair would move ``pairs x C``
    floats several times per step (4x slower on pixel grids).

    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> phi = pairwise_affinity_matrix(torch.tensor([0, 1]), torch.tensor([1, 2]),
    ...                                torch.tensor([0.5, 1.0]), 3)
    >>> laplacian_energy(q, *phi, torch.tensor([0, 0, 0]), 1).tolist()
    [1.0]
    """
    smoothed = degree[:, None] * values - torch.sparse.mm(matrix, values)
    per_node = (values * smoothed).sum(1)
    return values.new_zeros(num_graphs).index_add_(0, graph_of_node, per_node)


def graph_cross_entropy(
    logits: torch.Tensor,
    allowed: torch.Tensor,
    labelled: torch.Tensor,
    targets: torch.Tensor,
    labelled_graph: torch.Tensor,
    labelled_count: torch.Tensor,
) -> torch.Tensor:
    """Yi et al. eq. 9 per graph: the cross-entropy over each graph's labelled nodes, averaged
    per graph, with logits restricted to the node's allowed classes.

    ``labelled``: indices of the labelled nodes, ``targets`` their classes, ``labelled_graph``
    the graph of each, ``labelled_count`` the number of labelled nodes per graph (float).
    """
    masked = restrict_to_classes(logits, allowed)
    ce = F.cross_entropy(masked.index_select(0, labelled), targets, reduction="none")
    total = ce.new_zeros(len(labelled_count)).index_add_(0, labelled_graph, ce)
    return total / labelled_count


def pixel_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 2: per-pixel cross-entropy -log softmax(logits)[label]; NaN where the label is VOID.

    ``logits`` N x C x H x W, ``labels`` N x H x W integers. Returns float32 N x H x W on the
    logits' device. NaN (not 0, as ``ignore_index`` would give) so that an unlabelled pixel can
    never pass a ``loss < θ`` test.

    >>> logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])     # N=1, C=2, H=1, W=2
    >>> pixel_losses(logits, torch.tensor([[[0, 255]]])).tolist()
    [[[0.12692804634571075, nan]]]
    """
    if logits.ndim != 4 or labels.ndim != 3:
        raise ValueError(
            f"expected logits N x C x H x W and labels N x H x W, got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n, c, h, w = logits.shape
    if tuple(labels.shape) != (n, h, w):
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    labels = labels.to(device=logits.device, dtype=torch.long)
    void = labels == VOID
    if ((labels < 0) | ((labels >= c) & ~void)).any():
        raise ValueError(f"labels must be in 0..{c - 1} or {VOID} (void)")
    # Upcast first: half-precision log_softmax loses the small losses that θ (~1e-3) separates.
    log_probs = F.log_softmax(logits.float(), dim=1)
    safe = labels.masked_fill(void, 0)  # any valid index; overwritten with NaN below
    losses = -log_probs.gather(1, safe[:, None]).squeeze(1)
    return losses.masked_fill(void, float("nan"))


def selective_weights(
    log_probs: torch.Tensor, targets: torch.Tensor, sharpness: float
) -> torch.Tensor:
    """Fan et al. eq. 6-7: ``w_k = softmax_k(sharpness * [argmax_c p_c == y_k])`` per pixel over
    the estimates that label it (N x K x H x W, 0 where an estimate is void; all 0 at a pixel
    that no estimate labels). No gradient: the weights select, they are not trained.

    >>> log_probs = torch.tensor([[[[2.0]], [[0.0]]]]).log_softmax(1)   # predicts class 0
    >>> targets = torch.tensor([[[[0]], [[1]]]])                        # estimates 0 and 1
    >>> [round(w, 2) for w in selective_weights(log_probs, targets, 1.0).flatten().tolist()]
    [0.73, 0.27]
    """
    with torch.no_grad():
        valid = targets != VOID
        agrees = targets == log_probs.argmax(1, keepdim=True)
        scores = (sharpness * agrees.float()).masked_fill(~valid, -torch.inf)
        return scores.softmax(1).nan_to_num(0.0)


def weighted_selective_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, sharpness: float
) -> torch.Tensor | None:
    """Fan et al.'s weighted selective training (eq. 5) over K label estimates per pixel.

    ``logits`` N x C x H x W, ``targets`` N x K x H x W (VOID where an estimate has no label).
    The loss is ``-sum_k w_k log p[y_k]`` with :func:`selective_weights`, averaged over the
    pixels that at least one estimate labels (``None`` if none does). ``sharpness = 0`` weighs
    the labelling estimates equally: the plain multi-label cross-entropy (eq. 4; with no void,
    exactly the mean over k of each estimate's cross-entropy).

    >>> logits = torch.tensor([[[[2.0]], [[0.0]]]])          # predicts class 0
    >>> targets = torch.tensor([[[[0]], [[1]]]])            # estimate 0 agrees, estimate 1 not
    >>> round(float(weighted_selective_cross_entropy(logits, targets, 1.0)), 4)
    0.6648
    """
    if logits.ndim != 4 or targets.ndim != 4 or targets.shape[0] != logits.shape[0]:
        raise ValueError(
            f"expected logits N x C x H x W and targets N x K x H x W, got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    targets = targets.to(device=logits.device, dtype=torch.long)
    valid = targets != VOID
    labelled = valid.any(1)
    if not bool(labelled.any()):
        return None
    log_probs = F.log_softmax(logits.float(), dim=1)
    chosen = log_probs.gather(1, targets.masked_fill(~valid, 0))  # N x K x H x W: log p[y_k]
    weights = selective_weights(log_probs, targets, sharpness)
    per_pixel = -(weights * chosen.masked_fill(~valid, 0.0)).sum(1)
    return per_pixel[labelled].mean()
