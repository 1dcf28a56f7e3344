"""Label maps from a correction run: node probabilities back on the pixels, optionally refined
by the dense CRF, argmax; with ``keep_clean`` the pixels detected as clean (loss < θ) then take
back their own CAM label, so the correction only fills the pixels detection rejected. An image
the run could not correct (no labelled node) keeps its CAM labels and is counted as a fallback.

Imports no torch (graphs load it lazily, only for features), so label jobs start fast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pixelnoise.crf import dense_crf
from pixelnoise.detect import clean_mask
from pixelnoise.graphs import (
    VOID,
    SuperpixelGraph,
    grid_probabilities_to_pixels,
    node_probabilities_to_pixels,
)
from pixelnoise.methods import NODE_PROBABILITIES


def labeller(method, inputs) -> Callable[[str], tuple[np.ndarray, bool]]:
    """Label maps of a corrected method (registry ``options["run"]``, ``crf``)."""
    kind = method.options.get("graphs", "graphs")
    graphs = inputs.files(kind, ".npz")
    grid = kind == "grid_graphs"
    to_pixels = grid_probabilities_to_pixels if grid else node_probabilities_to_pixels
    corrected = inputs.files(f"{NODE_PROBABILITIES}:{method.options['run']}", ".npz")
    crf = inputs.params["crf"] if method.crf else None
    keep_clean = method.options.get("keep_clean", False)

    def label(image_id: str) -> tuple[np.ndarray, bool]:
        if image_id not in corrected:
            return inputs.cam_labels(image_id), True
        graph = SuperpixelGraph.load(graphs[image_id])
        node_probs = np.load(corrected[image_id])["node_probs"].astype(np.float32)
        probs = to_pixels(graph.segments, node_probs)
        if crf is not None:
            probs = dense_crf(inputs.run.dataset.read_image(image_id), probs, **crf)
        labels = probs.argmax(axis=0).astype(np.uint8)
        if keep_clean:
            cam = inputs.cam_labels(image_id)
            clean = clean_mask(inputs.losses[image_id][0], cam, inputs.theta)
            labels = np.where(clean != VOID, clean, labels).astype(np.uint8)
        return labels, False

    return label
