"""Superpixel graph of one image (Yi et al., Sec. III-C-1, eqs. 3-4, "Embedding clean labels").

An image becomes a graph whose nodes are SLIC superpixels and whose edges join spatially
adjacent superpixels, weighted by the similarity of their mean CNN features (eq. 3). Weak edges
are pruned (eq. 4), and each node gets the majority class of the clean pixels it contains, which
supervises the GNN that corrects the noisy ones. ``node_probabilities_to_pixels`` maps the GNN's
node predictions back onto pixels.

>>> import numpy as np
>>> image = np.zeros((8, 8, 3), np.uint8); image[:, 4:] = 255
>>> feature_map = np.zeros((2, 1, 2), np.float32); feature_map[:, 0, 1] = 1.0
>>> clean = np.full((8, 8), VOID, np.uint8); clean[0, 0] = 3
>>> graph = build_graph(image, feature_map, clean, n_segments=4, compactness=10.0)
>>> graph.num_nodes, int(graph.labels[graph.segments[0, 0]])
(4, 3)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from skimage.segmentation import slic

from pixelnoise.atomic import atomic_path
from pixelnoise.errors import ConfigError, PixelnoiseError

if TYPE_CHECKING:
    import torch

VOID = 255
"""Label of a pixel (or node) with no clean label."""

_FIELDS = ("segments", "features", "edges", "weights", "labels")
_OPTIONAL_FIELDS = ("scores",)


@dataclass(eq=False)
class SuperpixelGraph:
    """One image's superpixel graph; arrays are coerced to the documented dtypes.

    ``eq=False``: comparing numpy arrays with ``==`` is elementwise, so compare fields instead.
    """

    segments: np.ndarray  # H x W int32, superpixel id per pixel, ids 0..N-1 consecutive
    features: np.ndarray  # N x D float32, mean CNN feature per superpixel
    edges: np.ndarray  # E x 2 int64, undirected, i < j, after pruning (eq. 4), sorted
    weights: np.ndarray  # E float32: w_s of eq. 3 for the kept edges
    labels: np.ndarray  # N uint8: clean label per node by majority vote, VOID if no clean pixel
    # N x C float32, the clean model's mean class probabilities per node (an optional node
    # feature, ``correct.node_features``); None for graphs built without them
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.segments = np.asarray(self.segments, dtype=np.int32)
        self.features = np.asarray(self.features, dtype=np.float32)
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        self.weights = np.asarray(self.weights, dtype=np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.uint8).reshape(-1)
        n = self.num_nodes
        problems = []
        if self.segments.ndim != 2 or self.segments.size == 0:
            problems.append(f"segments must be a non-empty H x W map, got {self.segments.shape}")
        elif self.segments.min() < 0 or self.segments.max() != n - 1:
            problems.append(f"segment ids must span 0..{n - 1} (one per feature row)")
        if self.features.ndim != 2:
            problems.append(f"features must be N x D, got {self.features.shape}")
        if len(self.weights) != len(self.edges):
            problems.append(f"{len(self.edges)} edges but {len(self.weights)} weights")
        if len(self.edges) and (self.edges.min() < 0 or self.edges.max() >= n):
            problems.append(f"edge endpoints must be node ids in 0..{n - 1}")
        if len(self.labels) != n:
            problems.append(f"{n} nodes but {len(self.labels)} labels")
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32)
            if self.scores.ndim != 2 or len(self.scores) != n:
                problems.append(f"scores must be {n} x C, got {self.scores.shape}")
        if problems:
            raise PixelnoiseError("inconsistent SuperpixelGraph: " + "; ".join(problems))

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])

    def save(self, path: str | os.PathLike) -> None:
        """Write a compressed ``.npz`` atomically (a crash never leaves a truncated file)."""
        with atomic_path(path) as tmp:
            # A file object, not a name: np.savez would append ".npz" to the temporary name.
            with open(tmp, "wb") as f:
                fields = [*_FIELDS, *(k for k in _OPTIONAL_FIELDS if getattr(self, k) is not None)]
                np.savez_compressed(f, **{name: getattr(self, name) for name in fields})

    @classmethod
    def load(cls, path: str | os.PathLike) -> SuperpixelGraph:
        """Read a graph written by :meth:`save`; a missing field names the file."""
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in _FIELDS if name not in data.files]
            if missing:
                raise PixelnoiseError(f"{path}: not a superpixel graph (missing {missing})")
            present = [*_FIELDS, *(k for k in _OPTIONAL_FIELDS if k in data.files)]
            return cls(**{name: data[name] for name in present})


def slic_segments(
    image: np.ndarray,
    n_segments: int,
    compactness: float,
    *,
    max_num_iter: int = 10,
) -> np.ndarray:
    """SLIC superpixels of an H x W x 3 RGB image, relabelled to consecutive ids 0..N-1 (int32).

    SLIC places its seeds on a grid, so the result is deterministic. N is only roughly
    ``n_segments``: tiny images get at most one segment per pixel. Note that on i.i.d. pixel
    noise at compactness 10, SLIC's clusters are fragmented and ``enforce_connectivity`` merges
    them into very few segments; natural (spatially correlated) images behave as expected.
    ``max_num_iter`` trades accuracy for speed (10 is skimage's default and SLIC's recommendation).

    >>> image = np.zeros((4, 6, 3), np.uint8); image[:, 3:] = 200
    >>> slic_segments(image, n_segments=2, compactness=10.0)
    array([[0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1]], dtype=int32)
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise PixelnoiseError(f"expected a non-empty H x W x 3 RGB image, got {image.shape}")
    if int(n_segments) < 1:
        raise ConfigError(f"n_segments must be >= 1, got {n_segments}")
    if int(max_num_iter) < 1:
        raise ConfigError(f"max_num_iter must be >= 1, got {max_num_iter}")
    raw = slic(
        image,
        n_segments=int(n_segments),
        compactness=float(compactness),
        max_num_iter=int(max_num_iter),
        start_label=0,
        enforce_connectivity=True,
        channel_axis=-1,
    )
    # SLIC may leave gaps in its ids (clusters emptied during iteration); nodes must be 0..N-1.
    _, consecutive = np.unique(raw, return_inverse=True)
    return consecutive.reshape(raw.shape).astype(np.int32)


def adjacent_pairs(segments: np.ndarray) -> np.ndarray:
    """Sorted unique pairs (i < j) of superpixels sharing a horizontal or vertical pixel border.

    Diagonal-only contact does not count (4-connectivity). Returns E x 2 int64, E may be 0.

    >>> adjacent_pairs(np.array([[0, 0, 1], [2, 2, 1]]))
    array([[0, 1],
           [0, 2],
           [1, 2]])
    """
    segments = np.asarray(segments)
    if segments.ndim != 2:
        raise PixelnoiseError(f"segments must be an H x W map, got shape {segments.shape}")
    segments = segments.astype(np.int64, copy=False)
    a = np.concatenate([segments[:, :-1].ravel(), segments[:-1, :].ravel()])
    b = np.concatenate([segments[:, 1:].ravel(), segments[1:, :].ravel()])
    differ = a != b
    lo = np.minimum(a[differ], b[differ])
    hi = np.maximum(a[differ], b[differ])
    if lo.size == 0:
        return np.zeros((0, 2), np.int64)
    # One integer key per pair: unique() then both deduplicates and sorts lexicographically.
    n = int(segments.max()) + 1
    keys = np.unique(lo * n + hi)
    return np.stack([keys // n, keys % n], axis=1)


def _numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    """A NumPy view of an array or (any device's) tensor, without importing torch."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _axis_weights(n_in: int, n_out: int) -> sp.csr_matrix:
    """n_out x n_in matrix of 1-D linear-interpolation weights, exactly as torch computes them.

    Interpolating the identity yields torch's own weights (align_corners=False, edge clamping).
    """
    # Imported here: only graph building needs torch; the label stages load graphs without it.
    import torch
    import torch.nn.functional as F

    eye = torch.eye(n_in, dtype=torch.float64)[None]  # (batch 1, channel = cell, length)
    w = F.interpolate(eye, size=(n_out,), mode="linear", align_corners=False)[0].T
    return sp.csr_matrix(w.numpy())


def superpixel_features(feature_map: np.ndarray | torch.Tensor, segments: np.ndarray) -> np.ndarray:
    """Mean of the bilinearly upsampled D x h x w ``feature_map`` over each superpixel: N x D.

    Equivalent to ``F.interpolate(feature_map[None], size=(H, W), mode="bilinear",
    align_corners=False)`` followed by a scatter-mean over ``segments``, but never materialises
    the dense D x H x W map (140 MB and ~0.7 s for VGG's D=512 at 320x213): upsampling and
    averaging are both linear, so each superpixel's mean is a fixed weighted sum of the h*w
    low-resolution cells, i.e. ``features = A @ map`` with a sparse N x (h*w) matrix ``A``.
    A map of another aspect ratio than the image is stretched over the whole image, as the
    CNN saw the whole image. Ids missing from ``segments`` get zero features.

    >>> fmap = np.array([[[1.0, 3.0]]])  # D=1, h=1, w=2
    >>> superpixel_features(fmap, np.array([[0, 0, 1, 1]]))
    array([[1.25],
           [2.75]], dtype=float32)
    """
    fmap = _numpy(feature_map).astype(np.float64, copy=False)
    segments = np.asarray(segments)
    if fmap.ndim != 3 or 0 in fmap.shape:
        raise PixelnoiseError(f"feature map must be a non-empty D x h x w array, got {fmap.shape}")
    if segments.ndim != 2 or segments.size == 0:
        raise PixelnoiseError(f"segments must be a non-empty H x W map, got {segments.shape}")
    d, h, w = fmap.shape
    height, width = segments.shape
    flat = segments.astype(np.int64).ravel()
    n = int(flat.max()) + 1
    # Row y*W + x, column qy*w + qx: the bilinear weight of cell (qy, qx) at pixel (y, x).
    pixel_weights = sp.kron(_axis_weights(h, height), _axis_weights(w, width), format="coo")
    cells = sp.coo_matrix(
        (pixel_weights.data, (flat[pixel_weights.row], pixel_weights.col)), shape=(n, h * w)
    ).tocsr()  # tocsr() sums the duplicates: the weights of all pixels of a superpixel
    sums = cells @ fmap.reshape(d, h * w).T
    counts = np.bincount(flat, minlength=n)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def segment_means(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean of a full-resolution C x H x W map over each superpixel of ``segments``: N x C.

    >>> segment_means(np.array([[[1.0, 3.0, 5.0]]]), np.array([[0, 0, 1]]))
    array([[2.],
           [5.]], dtype=float32)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 3 or values.shape[1:] != np.shape(segments):
        raise PixelnoiseError(
            f"a C x H x W map matching the {np.shape(segments)} segments is needed, "
            f"got {values.shape}"
        )
    flat = np.asarray(segments, dtype=np.int64).ravel()
    n = int(flat.max()) + 1
    counts = np.maximum(np.bincount(flat, minlength=n), 1)
    sums = [np.bincount(flat, weights=channel.ravel(), minlength=n) for channel in values]
    return (np.stack(sums, axis=1) / counts[:, None]).astype(np.float32)


def similarity_weights(features: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Eq. 3 for spatially adjacent pairs (w_l = 1): ``exp(-||v_i - v_j||^2 / (2h))``, float32.

    The paper's typeset eq. 3 is garbled (the norm's exponent and the denominator's layout are
    lost); we read it as a Gaussian kernel of the squared Euclidean distance with bandwidth
    ``2h``, h = the feature dimension D. Dividing by the dimension keeps the scale from growing
    with D: the exponent is half the mean squared per-channel difference.

    >>> similarity_weights(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0, 1]]))
    array([0.7788008], dtype=float32)
    """
    features = np.asarray(features, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if features.ndim != 2 or features.shape[1] == 0:
        raise PixelnoiseError(f"features must be N x D with D >= 1, got {features.shape}")
    diff = features[pairs[:, 0]] - features[pairs[:, 1]]
    squared = np.einsum("ed,ed->e", diff, diff)
    return np.exp(-squared / (2.0 * features.shape[1])).astype(np.float32)


def prune_edges(pairs: np.ndarray, weights: np.ndarray, num_nodes: int) -> np.ndarray:
    """Eq. 4: boolean keep-mask over ``pairs``.

    gamma = mean(W_s) - std(W_s) over the graph's edges (population std). The directed entry
    a_ij is 0 iff ``w_ij < gamma`` and ``w_ij < max_k w_ik``. The paper's A is thus asymmetric;
    we keep an undirected edge if either direction keeps it, so every node keeps its strongest
    edge(s) and pruning never isolates a node that had a neighbour. Ties with a node's maximum
    all count as strongest. No edges (one-node graph) gives an empty mask.

    >>> prune_edges(np.array([[0, 1], [1, 2], [0, 2]]), np.array([0.9, 0.8, 0.1]), 3)
    array([ True,  True, False])
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(weights) != len(pairs):
        raise PixelnoiseError(f"{len(pairs)} pairs but {len(weights)} weights")
    if len(pairs) == 0:
        return np.zeros(0, dtype=bool)
    if pairs.min() < 0 or pairs.max() >= num_nodes:
        raise PixelnoiseError(f"pair endpoints must be node ids in 0..{num_nodes - 1}")
    gamma = weights.mean() - weights.std()
    strongest = np.full(num_nodes, -np.inf)
    np.maximum.at(strongest, pairs[:, 0], weights)
    np.maximum.at(strongest, pairs[:, 1], weights)
    # ``strongest`` holds copies of the weights themselves, so ``>=`` is an exact tie test.
    return (
        (weights >= gamma)
        | (weights >= strongest[pairs[:, 0]])
        | (weights >= strongest[pairs[:, 1]])
    )


def majority_vote(segments: np.ndarray, clean_labels: np.ndarray, num_nodes: int) -> np.ndarray:
    """Per superpixel, the class with the most clean pixels (ties: smallest class), else VOID.

    ``clean_labels`` is H x W with a class index (0..254) on clean pixels and VOID elsewhere.
    An all-VOID map gives all-VOID node labels.

    >>> segments = np.array([[0, 0, 1, 1, 2]])
    >>> majority_vote(segments, np.array([[4, 2, VOID, VOID, 7]]), 3)
    array([  2, 255,   7], dtype=uint8)
    """
    segments = np.asarray(segments)
    clean = np.asarray(clean_labels)
    if segments.shape != clean.shape or segments.ndim != 2:
        raise PixelnoiseError(
            f"segments {segments.shape} and clean labels {clean.shape} must be the same H x W"
        )
    if clean.size and (clean.min() < 0 or clean.max() > VOID):
        raise PixelnoiseError(f"clean labels must be class indices 0..254 or VOID={VOID}")
    if segments.size and (segments.min() < 0 or segments.max() >= num_nodes):
        raise PixelnoiseError(f"segment ids must be node ids in 0..{num_nodes - 1}")
    labels = np.full(num_nodes, VOID, dtype=np.uint8)
    is_clean = clean != VOID
    if not is_clean.any():
        return labels
    nodes = segments[is_clean].astype(np.int64)
    classes = clean[is_clean].astype(np.int64)
    k = int(classes.max()) + 1
    counts = np.bincount(nodes * k + classes, minlength=num_nodes * k).reshape(num_nodes, k)
    voted = counts.sum(axis=1) > 0
    labels[voted] = counts[voted].argmax(axis=1)  # argmax takes the first maximum
    return labels


def build_graph(
    image: np.ndarray,
    feature_map: np.ndarray | torch.Tensor,
    clean_labels: np.ndarray,
    *,
    n_segments: int,
    compactness: float,
    max_num_iter: int = 10,
    class_scores: np.ndarray | None = None,
) -> SuperpixelGraph:
    """SLIC -> mean features -> adjacent pairs -> eq. 3 weights -> eq. 4 pruning -> labels.

    ``image`` is H x W x 3 uint8, ``feature_map`` D x h x w (any h, w), ``clean_labels`` H x W;
    ``class_scores`` (C x H x W, optional) become the nodes' mean ``scores``.
    A uniform image may give a single node and no edges; nodes may end up isolated only if
    they had no neighbour to begin with (a one-node graph).
    """
    image = np.asarray(image)
    clean_labels = np.asarray(clean_labels)
    if clean_labels.shape != image.shape[:2]:
        raise PixelnoiseError(
            f"clean labels {clean_labels.shape} do not match the image {image.shape[:2]}"
        )
    segments = slic_segments(image, n_segments, compactness, max_num_iter=max_num_iter)
    num_nodes = int(segments.max()) + 1
    features = superpixel_features(feature_map, segments)
    pairs = adjacent_pairs(segments)
    weights = similarity_weights(features, pairs)
    keep = prune_edges(pairs, weights, num_nodes)
    return SuperpixelGraph(
        segments=segments,
        features=features,
        edges=pairs[keep],
        weights=weights[keep],
        labels=majority_vote(segments, clean_labels, num_nodes),
        scores=None if class_scores is None else segment_means(class_scores, segments),
    )


def grid_segments(height: int, width: int, stride: int) -> np.ndarray:
    """An H x W map of ``stride x stride`` blocks, numbered row by row: the nodes of a pixel grid
    at that stride (the last row and column of blocks may be narrower).

    >>> grid_segments(3, 5, 2)
    array([[0, 0, 1, 1, 2],
           [0, 0, 1, 1, 2],
           [3, 3, 4, 4, 5]], dtype=int32)
    """
    if int(stride) < 1:
        raise ConfigError(f"graph.grid.stride must be >= 1, got {stride}")
    columns = -(-int(width) // int(stride))
    rows = np.arange(height) // stride
    return (rows[:, None] * columns + np.arange(width)[None] // stride).astype(np.int32)


def window_pairs(rows: int, columns: int, radius: int) -> np.ndarray:
    """Pairs (i < j) of cells of a ``rows x columns`` grid (numbered row by row) within a
    ``(2 radius + 1)``-wide square window of each other, sorted; E x 2 int64.

    >>> window_pairs(2, 2, 1).tolist()
    [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    """
    if int(radius) < 1:
        raise ConfigError(f"graph.grid.radius must be >= 1, got {radius}")
    y, x = np.divmod(np.arange(rows * columns), columns)
    parts = []
    for dy in range(0, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx <= 0:
                continue  # each unordered offset once: (0, +dx) and (+dy, any dx)
            ok = (y + dy < rows) & (x + dx >= 0) & (x + dx < columns)
            i = np.flatnonzero(ok)
            parts.append(np.stack([i, i + dy * columns + dx], axis=1))
    pairs = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].astype(np.int64)


def build_grid_graph(
    image: np.ndarray, feature_map: np.ndarray | torch.Tensor, *, stride: int, radius: int
) -> SuperpixelGraph:
    """A pixel-grid graph (WSGCN): one node per ``stride x stride`` block with the block's mean
    features, edges between the nodes within ``radius`` grid cells of each other (a square
    window; WSGCN's 5 x 5 window is radius 2), weighted by eq. 3's feature similarity and not
    pruned. Stored as a :class:`SuperpixelGraph` whose segments are the blocks, so every stage
    that reads superpixel graphs reads these too. No node carries a label.
    """
    height, width = np.asarray(image).shape[:2]
    segments = grid_segments(height, width, stride)
    rows, columns = -(-height // stride), -(-width // stride)
    features = superpixel_features(feature_map, segments)
    pairs = window_pairs(rows, columns, radius)
    return SuperpixelGraph(
        segments=segments,
        features=features,
        edges=pairs,
        weights=similarity_weights(features, pairs),
        labels=np.full(rows * columns, VOID, np.uint8),
    )


def grid_probabilities_to_pixels(segments: np.ndarray, node_probs: np.ndarray) -> np.ndarray:
    """N x C node scores of a pixel grid (:func:`build_grid_graph`) -> C x H x W by bilinear
    interpolation between the block centres, as WSGCN upsamples its stride-S predictions
    (nearest-block lookup would leave S x S staircases along every boundary).

    >>> segments = grid_segments(2, 4, 2)                       # two 2 x 2 blocks
    >>> grid_probabilities_to_pixels(segments, np.array([[1.0], [0.0]]))[0].tolist()
    [[1.0, 0.75, 0.25, 0.0], [1.0, 0.75, 0.25, 0.0]]
    """
    import cv2  # only grid methods need it

    segments = np.asarray(segments)
    height, width = segments.shape
    # Block 0 spans min(stride, W) columns and min(stride, H) rows.
    stride = int(max(np.count_nonzero(segments[0] == 0), np.count_nonzero(segments[:, 0] == 0)))
    rows, columns = -(-height // stride), -(-width // stride)
    node_probs = np.asarray(node_probs, dtype=np.float32)
    if len(node_probs) != rows * columns:
        raise PixelnoiseError(f"{len(node_probs)} rows for a {rows} x {columns} grid")
    grid = node_probs.reshape(rows, columns, -1)
    planes = [
        cv2.resize(grid[..., c], (columns * stride, rows * stride), interpolation=cv2.INTER_LINEAR)
        for c in range(grid.shape[2])
    ]
    return np.stack(planes)[:, :height, :width]


def node_probabilities_to_pixels(
    graph_or_segments: SuperpixelGraph | np.ndarray, node_probs: np.ndarray | torch.Tensor
) -> np.ndarray:
    """N x C node scores -> C x H x W: every pixel takes its superpixel's row.

    >>> node_probabilities_to_pixels(np.array([[0, 1]]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    array([[[0.9, 0.2]],
    <BLANKLINE>
           [[0.1, 0.8]]])
    """
    if isinstance(graph_or_segments, SuperpixelGraph):
        segments = graph_or_segments.segments
    else:
        segments = np.asarray(graph_or_segments)
    node_probs = _numpy(node_probs)
    if node_probs.ndim != 2:
        raise PixelnoiseError(f"node probabilities must be N x C, got {node_probs.shape}")
    if segments.size and segments.max() >= len(node_probs):
        raise PixelnoiseError(
            f"segments use node id {segments.max()} but only {len(node_probs)} rows were given"
        )
    # Indexing the transposed C x N array yields C x H x W directly (contiguous per class).
    return np.ascontiguousarray(node_probs.T)[:, segments]
