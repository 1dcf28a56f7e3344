"""Label propagation (the no-learning baseline), node labels with a minimum clean fraction, and
corrected label maps that keep the detected pixels' own labels."""

import numpy as np

from pixelnoise.corrected_labels import labeller
from pixelnoise.graphs import VOID, SuperpixelGraph
from pixelnoise.methods import LABEL_MAPS, REGISTRY
from pixelnoise.propagation import propagate
from pixelnoise.supervision import node_labels


def test_propagation_follows_the_strong_edges():
    # Two triangles joined by a weak edge; one labelled node in each.
    edges = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [3, 4], [4, 5], [3, 5]])
    weights = np.array([1, 1, 1, 0.01, 1, 1, 1], np.float32)
    labels = np.array([1, VOID, VOID, VOID, VOID, 3], np.uint8)
    probs = propagate(edges, weights, labels, [1, 3], 5, alpha=0.9, iterations=100)
    assert probs.argmax(1).tolist() == [1, 1, 1, 3, 3, 3]
    assert np.allclose(probs.sum(1), 1) and (probs[:, [0, 2, 4]] == 0).all()


def test_propagation_without_labels_or_edges():
    assert propagate(np.zeros((0, 2)), np.zeros(0), np.full(3, VOID, np.uint8), [0], 2,
                     alpha=0.9, iterations=5) is None  # fmt: skip
    probs = propagate(np.zeros((0, 2)), np.zeros(0), np.array([1, VOID], np.uint8), [0, 1], 2,
                      alpha=0.9, iterations=5)  # fmt: skip
    assert probs[0].argmax() == 1 and np.allclose(probs[1], [0.5, 0.5])  # unreached: uniform


def _graph():
    segments = np.array([[0, 0, 0, 0, 1, 1, 1, 1]], np.int32)
    return SuperpixelGraph(segments, np.zeros((2, 3)), np.array([[0, 1]]), np.ones(1),
                           np.full(2, VOID))  # fmt: skip


def test_a_node_needs_enough_supervised_pixels():
    pixels = np.array([[2, VOID, VOID, VOID, 5, 5, 5, VOID]], np.uint8)
    assert node_labels(_graph(), pixels, {"min_clean_fraction": 0.0}).tolist() == [2, 5]
    assert node_labels(_graph(), pixels, {"min_clean_fraction": 0.5}).tolist() == [VOID, 5]


class _Inputs:
    """What a label method reads, for a two-superpixel 1x8 image."""

    def __init__(self, tmp_path):
        graph, probs = _graph(), np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
        graph.save(tmp_path / "img.npz")
        (tmp_path / "corrected").mkdir()
        full = np.zeros((2, 6), np.float32)
        full[:, [1, 4]] = probs
        np.savez(tmp_path / "corrected/img.npz", node_probs=full)
        self.paths = {"graphs": tmp_path, "node_probabilities:detect_gat": tmp_path / "corrected"}
        self.params = {"tau_bg": 0.3, "crf": None}
        self.theta = 0.5
        self.losses = {"img": (np.array([[0.1, 0.1, 9, 9, 9, 9, 0.1, 0.1]]), {})}

    def files(self, key, suffix):
        return {p.stem: p for p in self.paths[key].glob(f"*{suffix}")}

    def cam_labels(self, image_id):
        return np.array([[4, 1, 1, 1, 1, 1, 1, 1]], np.uint8)


def test_keeping_the_detected_pixels_labels(tmp_path):
    inputs = _Inputs(tmp_path)
    plain, _ = labeller(REGISTRY.get("detect_gat", LABEL_MAPS), inputs)("img")
    kept, fell_back = labeller(REGISTRY.get("detect_gat_keep", LABEL_MAPS), inputs)("img")
    assert plain.tolist() == [[1, 1, 1, 1, 4, 4, 4, 4]]  # node 0 -> class 1, node 1 -> class 4
    # Pixels with loss < θ (the first two, the last two) keep their CAM labels 4, 1, 1, 1.
    assert kept.tolist() == [[4, 1, 1, 1, 4, 4, 1, 1]] and not fell_back
