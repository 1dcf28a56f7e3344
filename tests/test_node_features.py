"""Node features of the correction GNN (``correct.node_features``): what each kind adds, the
graph field that stores the clean model's scores, and a correction run reading them."""

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from pixelnoise.config import load_config
from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.graphs import SuperpixelGraph, build_graph, segment_means
from pixelnoise.node_features import node_features
from pixelnoise.tau_bg import run_tau_bg

V = 255


def _graph(scores=None) -> SuperpixelGraph:
    segments = np.array([[0, 0, 1], [2, 2, 1]])
    features = np.arange(6, dtype=np.float32).reshape(3, 2)
    return SuperpixelGraph(segments, features, [[0, 1], [1, 2]], [1.0, 0.5], [1, V, V], scores)


def test_segment_means_average_each_superpixel():
    values = np.stack([np.array([[1.0, 3.0, 10.0], [4.0, 6.0, 20.0]]), np.zeros((2, 3))])
    means = segment_means(values, np.array([[0, 0, 1], [2, 2, 1]]))
    assert means.shape == (3, 2)
    np.testing.assert_allclose(means[:, 0], [2.0, 15.0, 5.0])
    np.testing.assert_allclose(means[:, 1], 0.0)
    with pytest.raises(PixelnoiseError, match="matching"):
        segment_means(values[:, :1], np.array([[0, 0, 1], [2, 2, 1]]))


def test_each_kind_adds_its_columns_in_the_listed_order():
    scores = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.8, 0.0], [0.25, 0.25, 0.25, 0.25]])
    graph = _graph(scores)
    cams = (np.stack([np.full((2, 3), 0.5), np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])]), [3, 1])
    np.testing.assert_array_equal(node_features(graph, ["deep"]), graph.features)
    both = node_features(graph, ["clean_scores", "deep", "cams"], cams, num_classes=4)
    assert both.shape == (3, 4 + 2 + 4) and both.dtype == np.float32
    np.testing.assert_allclose(both[:, :4], scores)
    np.testing.assert_array_equal(both[:, 4:6], graph.features)
    # CAM columns sit at their class indices; the classes absent from the image stay zero
    np.testing.assert_allclose(both[:, 6 + 3], 0.5)
    np.testing.assert_allclose(both[:, 6 + 1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(both[:, [6, 8]], 0.0)


@pytest.mark.parametrize("kinds", [[], ["deep", "deep"], ["colour"]])
def test_bad_kinds_name_the_config_key(kinds):
    with pytest.raises(ConfigError, match="correct.node_features"):
        node_features(_graph(), kinds)


def test_scores_missing_from_an_old_graph_is_a_clear_error():
    with pytest.raises(PixelnoiseError, match="rebuild the graphs"):
        node_features(_graph(), ["deep", "clean_scores"])


def test_scores_round_trip_and_stay_optional(tmp_path):
    scores = np.full((3, 4), 0.25)
    for graph in (_graph(), _graph(scores)):
        graph.save(tmp_path / "g.npz")
        loaded = SuperpixelGraph.load(tmp_path / "g.npz")
        if graph.scores is None:
            assert loaded.scores is None
        else:
            np.testing.assert_array_equal(loaded.scores, graph.scores)
    with pytest.raises(PixelnoiseError, match="scores must be 3 x C"):
        _graph(np.ones((2, 4)))


def test_built_graphs_carry_mean_class_probabilities():
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, 8:] = 255
    probabilities = np.zeros((2, 16, 16), np.float32)
    probabilities[0, :, :8] = probabilities[1, :, 8:] = 1.0
    graph = build_graph(image, np.ones((3, 2, 2)), np.full((16, 16), V, np.uint8),
                        n_segments=4, compactness=10.0, class_scores=probabilities)  # fmt: skip
    np.testing.assert_allclose(graph.scores.sum(axis=1), 1.0, rtol=1e-6)
    left = graph.segments[0, 0]
    np.testing.assert_allclose(graph.scores[left], [1.0, 0.0])


def test_a_correction_run_reads_the_chosen_features(finished_run, tmp_path, monkeypatch):
    """The default reproduces the run's own corrected labels; adding kinds changes them."""
    from pixelnoise.stages.correct_labels import correct_labels

    config = load_config([REPO / "tests/configs/tiny.yaml"])
    monkeypatch.chdir(finished_run)
    results = Path("results")
    artifacts = {
        "graphs": [str(results / "graphs/shard0")],
        "cams": [str(results / "cams/shard0.zarr")],
        "losses": [str(results / "detect/losses/shard0.zarr")],
        "theta": [str(results / "detect/theta.json")],
    }
    outputs = {}
    for kinds in (["deep"], ["deep", "clean_scores", "cams"]):
        out = tmp_path / "_".join(kinds)
        correct_labels(run_name="detect_gat", manifest_path=str(results / "data/manifest.csv"),
                       dataset_cfg=config["dataset"], artifacts=artifacts,
                       tau_bg=run_tau_bg(config["cam"]["tau_bg"]),
                       cfg={**config["correct"], "node_features": kinds}, out_dir=str(out),
                       shard=0, shards=1, seed=config["seed"], device="cpu")  # fmt: skip
        outputs[len(kinds)] = {p.name: np.load(p)["node_probs"] for p in out.glob("*.npz")}
    reference = {p.name: np.load(p)["node_probs"]
                 for p in (results / "corrected/detect_gat/shard0").glob("*.npz")}  # fmt: skip
    assert outputs[1].keys() == reference.keys() == outputs[3].keys() and reference
    for name, probs in reference.items():
        np.testing.assert_array_equal(outputs[1][name], probs)
        np.testing.assert_allclose(outputs[3][name].astype(np.float32).sum(axis=1), 1.0, atol=1e-2)
    assert any(not np.array_equal(outputs[3][n], reference[n]) for n in reference)
