"""Label maps from a correction run: node probabilities back on the pixels, optionally refined
by the dense CRF, argmax. A family whose settings say ``crf_unaries: softmax`` (WSGCN's public
code) gives the CRF the softmax of the probabilities over the image's classes, not the
probabilities: flatter unaries, so the CRF's pairwise terms weigh more. With ``keep_clean``
the pixels detected as clean (loss < θ) then take back their own CAM label, so the correction
only fills the pixels detection rejected. An image
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


def softmax_over_allowed(probs: np.ndarray, allowed: list[int]) -> np.ndarray:
    """C x H x W: ``exp(p_c) / sum_{a in allowed} exp(p_a)`` for the ``allowed`` classes, 0 for
    the others (the CRF keeps them at 0).

    >>> softmax_over_allowed(np.array([[[1.0]], [[0.0]], [[0.0]]]), [0, 2])[:, 0, 0].round(3)
    array([0.731, 0.   , 0.269], dtype=float32)
    """
    allowed_probs = np.asarray(probs, np.float32)[allowed]
    exp = np.exp(allowed_probs - allowed_probs.max(axis=0, keepdims=True))
    out = np.zeros(np.shape(probs), np.float32)
    out[allowed] = exp / exp.sum(axis=0, keepdims=True)
    return out


def labeller(method, inputs) -> Callable[[str], tuple[np.ndarray, bool]]:
    """Label maps of a corrected method (registry ``options["run"]``, ``crf``)."""
    kind = method.options.get("graphs", "graphs")
    graphs = inputs.files(kind, ".npz")
    grid = kind == "grid_graphs"
    to_pixels = grid_probabilities_to_pixels if grid else node_probabilities_to_pixels
    corrected = inputs.files(f"{NODE_PROBABILITIES}:{method.options['run']}", ".npz")
    crf = inputs.params["crf"] if method.crf else None
    keep_clean = method.options.get("keep_clean", False)
    softmax_first = (inputs.params.get("settings") or {}).get("crf_unaries") == "softmax"

    def label(image_id: str) -> tuple[np.ndarray, bool]:
        if image_id not in corrected:
            return inputs.cam_labels(image_id), True
        graph = SuperpixelGraph.load(graphs[image_id])
        node_probs = np.load(corrected[image_id])["node_probs"].astype(np.float32)
        probs = to_pixels(graph.segments, node_probs)
        if crf is not None:
            if softmax_first:
                probs = softmax_over_allowed(probs, inputs.run.allowed_classes(image_id))
            probs = dense_crf(inputs.run.dataset.read_image(image_id), probs, **crf)
        labels = probs.argmax(axis=0).astype(np.uint8)
        if keep_clean:
            cam = inputs.cam_labels(image_id)
            clean = clean_mask(inputs.losses[image_id][0], cam, inputs.theta)
            labels = np.where(clean != VOID, clean, labels).astype(np.uint8)
        return labels, False

    return label
