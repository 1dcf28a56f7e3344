"""What the correction GNN reads at each superpixel (the config's ``correct.node_features``).

``deep``: the clean model's mean backbone features (Yi et al. eq. 3, the default);
``clean_scores``: its mean class probabilities (stored in the graph when it is built);
``cams``: the mean CAM of each of the image's classes (zero for the other classes). The GNN
standardises every column per graph, so the kinds need no common scale.

>>> import numpy as np
>>> from pixelnoise.graphs import SuperpixelGraph
>>> graph = SuperpixelGraph(np.array([[0, 1]]), np.ones((2, 4)), [[0, 1]], [1.0], [0, 255],
...                         scores=np.full((2, 3), 1 / 3))
>>> cams = (np.array([[[0.2, 0.8]]]), [2])          # one present class, index 2
>>> node_features(graph, ["deep", "cams"], cams, num_classes=3).shape
(2, 7)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.graphs import SuperpixelGraph, segment_means

NODE_FEATURES = ("deep", "clean_scores", "cams")


def check_kinds(kinds: Sequence[str]) -> None:
    """A ConfigError naming ``correct.node_features`` unless ``kinds`` is a non-empty list of
    distinct known kinds."""
    unknown = [kind for kind in kinds if kind not in NODE_FEATURES]
    if not kinds or unknown or len(set(kinds)) != len(kinds):
        raise ConfigError(
            f"correct.node_features must list distinct kinds of {list(NODE_FEATURES)}, "
            f"got {list(kinds)}"
        )


def node_features(
    graph: SuperpixelGraph,
    kinds: Sequence[str],
    cams: tuple[np.ndarray, Sequence[int]] | None = None,
    num_classes: int | None = None,
) -> np.ndarray:
    """N x D' float32: the listed kinds side by side. ``cams``: the image's (C' x H x W CAMs,
    their class indices), needed for ``cams`` with ``num_classes``."""
    check_kinds(kinds)
    columns = []
    for kind in kinds:
        if kind == "deep":
            columns.append(graph.features)
        elif kind == "clean_scores":
            if graph.scores is None:
                raise PixelnoiseError(
                    "node feature clean_scores: the graph has no clean-model scores "
                    "(built by an older version: rebuild the graphs)"
                )
            columns.append(graph.scores)
        else:
            if cams is None or num_classes is None:
                raise ValueError("node feature cams needs the image's CAMs and num_classes")
            values, classes = cams
            per_class = np.zeros((graph.num_nodes, num_classes), np.float32)
            per_class[:, np.asarray(classes, dtype=np.int64)] = segment_means(
                values, graph.segments
            )
            columns.append(per_class)
    return np.concatenate(columns, axis=1).astype(np.float32)
