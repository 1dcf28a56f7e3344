"""Where a correction run's node supervision comes from: one *source* per name.

Each source maps an image to an H x W label map (VOID where a pixel supervises nothing) and
declares the artifacts it needs and whether it reads the masks of weak images. The method
registry derives each correction run's inputs and its ``reads_weak_masks`` flag from here, so
that flag is defined once; an unknown source is an error, never a fall-through.

NumPy only (no torch), so the registry that reads these declarations stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from pixelnoise.cam_labels import cam_seeds
from pixelnoise.detect import clean_mask
from pixelnoise.errors import ConfigError
from pixelnoise.graphs import SuperpixelGraph, majority_vote
from pixelnoise.metrics import VOID


@dataclass(frozen=True)
class SupervisionInputs:
    """What a source may read for one image: the run's data, stores and settings."""

    run: object  # pixelnoise.run_data.RunData
    cams: object  # ArrayReader of the CAM stores
    losses: object | None  # ArrayReader of the loss maps, for sources that consume them
    theta: float | None
    tau_bg: float
    cfg: dict  # the config's `correct` section
    settings: dict  # the method family's own section (e.g. `wsgcn`), {} if it has none


@dataclass(frozen=True)
class Source:
    labels: Callable[[SupervisionInputs, str], np.ndarray]
    consumes: tuple[str, ...]  # artifacts besides the graphs, as named in the registry
    reads_weak_masks: bool
    description: str
    #: Modules the source loads by name (its correction runs' registry entries declare them
    #: as ``uses``, so only those runs' code triggers cover them: pixelnoise/codehash.py).
    uses: tuple[str, ...] = ()


def _detected(inputs: SupervisionInputs, image_id: str) -> np.ndarray:
    cam = inputs.run.cam_labels(inputs.cams, image_id, inputs.tau_bg)
    return clean_mask(inputs.losses[image_id][0], cam, inputs.theta)


def _cam_seeds(inputs: SupervisionInputs, image_id: str) -> np.ndarray:
    values, classes = inputs.cams.cams(image_id)
    cfg = inputs.cfg
    return cam_seeds(values, classes, inputs.run.background, cfg["seed_fg"], cfg["seed_bg"])


PARTIAL_LABELS = "pixelnoise.partial_labels"  # WSGCN's seeds, with the dense CRF


def _wsgcn_seeds(inputs: SupervisionInputs, image_id: str) -> np.ndarray:
    partial_labels = importlib.import_module(PARTIAL_LABELS)
    return partial_labels.image_partial_labels(inputs.run, inputs.cams, image_id, inputs.settings)


def _oracle(inputs: SupervisionInputs, image_id: str) -> np.ndarray:
    clean = _detected(inputs, image_id)
    truth = inputs.run.dataset.scoring_mask(image_id)  # a weak mask: upper bounds only
    if truth is None:  # unusable (a warning names it): this image gets no oracle supervision
        return np.full_like(clean, VOID, dtype=np.uint8)
    return np.where(clean != VOID, truth, VOID).astype(np.uint8)


SOURCES: dict[str, Source] = {
    "detect": Source(
        _detected,
        ("cams", "losses", "theta"),
        reads_weak_masks=False,
        description="CAM labels whose clean-model loss is below θ (Yi et al.)",
    ),
    "camseeds": Source(
        _cam_seeds,
        ("cams",),
        reads_weak_masks=False,
        description="confident CAM seeds, no detection (Table V, correction only)",
    ),
    "wsgcn_seeds": Source(
        _wsgcn_seeds,
        ("cams",),
        reads_weak_masks=False,
        description="WSGCN's partial labels: CRF-refined confident CAM pixels (Pan et al.)",
        uses=(PARTIAL_LABELS,),
    ),
    "oracle": Source(
        _oracle,
        ("cams", "losses", "theta"),
        reads_weak_masks=True,
        description="ground truth at the detected pixels: an upper bound (Table V, oracle)",
    ),
}


def source(name: str) -> Source:
    """The source called ``name``; a name nobody declared is a ConfigError."""
    if name not in SOURCES:
        raise ConfigError(f"unknown supervision source {name!r}; choose one of {sorted(SOURCES)}")
    return SOURCES[name]


def node_labels(graph: SuperpixelGraph, pixel_labels: np.ndarray, cfg: dict) -> np.ndarray:
    """Each superpixel's label: the majority class of its supervised pixels, kept only where
    those pixels cover at least ``cfg["min_clean_fraction"]`` of the superpixel (0: any)."""
    labels = majority_vote(graph.segments, pixel_labels, graph.num_nodes)
    if cfg["min_clean_fraction"] > 0:
        sizes = np.bincount(graph.segments.ravel(), minlength=graph.num_nodes)
        supervised = np.bincount(
            graph.segments[pixel_labels != VOID].ravel(), minlength=graph.num_nodes
        )
        labels[supervised < cfg["min_clean_fraction"] * sizes] = VOID
    return labels


def supervised_graphs(
    method, inputs, ids: list[str], cfg: dict
) -> Iterator[tuple[SuperpixelGraph, np.ndarray, dict]]:
    """For a correction run (registry ``options["supervision"]``), each image's graph, its node
    labels and its summary row (nodes, edges, labelled nodes)."""
    supervision = source(method.options["supervision"])
    needs = set(supervision.consumes)
    sources = SupervisionInputs(
        run=inputs.run,
        cams=inputs.cams,
        losses=inputs.losses if "losses" in needs else None,
        theta=inputs.theta if "theta" in needs else None,
        tau_bg=inputs.params["tau_bg"],
        cfg=cfg,
        settings=inputs.params.get("settings") or {},
    )
    graph_files = inputs.files(method.options.get("graphs", "graphs"), ".npz")
    for image_id in ids:
        graph = SuperpixelGraph.load(graph_files[image_id])
        labels = node_labels(graph, supervision.labels(sources, image_id), cfg)
        row = {
            "image_id": image_id,
            "nodes": graph.num_nodes,
            "edges": len(graph.edges),
            "labelled_nodes": int((labels != VOID).sum()),
        }
        yield graph, labels, row
