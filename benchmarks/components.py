"""Per-image time of the correction stage's components, uncontended, on a VOC-style dataset.

For each of the first ``--images`` train images with more than one class (one-class images
need no GNN): the clean model's features (an untrained network of the configured architecture:
the cost does not depend on the weights), SLIC and the graph (eq. 3-4), GNN training (each
kind/backend, batched as the pipeline does), back-projection of the node probabilities to
pixels, and the dense CRF, all with the config's settings. Node supervision: the ground-truth
majority label of a random half of the superpixels (the detected coverage is about half on
MSRC-21); it only matters for which nodes enter the loss.

WSGCN (the config's ``wsgcn`` and ``grid_graph``): the partial labels (two CRFs with a
background class, one without), a GCN per image with all loss terms on the superpixel graphs,
then on pixel grids (the first ``--grid-images`` images: a grid has ~4x the nodes), and WSGCN's
CRF. The partial labels are computed from CAM-like maps made of the masks (their cost does not
depend on the values).

    .venv/bin/python benchmarks/components.py --configfile config/msrc21.yaml \
        --root ../shared/datasets/msrc21 --images 64 --threads 2

Prints a Markdown table (median and mean seconds per image) and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch

from pixelnoise.config import load_config
from pixelnoise.crf import dense_crf
from pixelnoise.data.voc import VocDataset
from pixelnoise.gnn import GraphInput, correct_graphs
from pixelnoise.graphs import (
    VOID,
    build_graph,
    build_grid_graph,
    majority_vote,
    node_probabilities_to_pixels,
)
from pixelnoise.inference import log_probs_and_features
from pixelnoise.models.deeplab import SegmentationNet
from pixelnoise.partial_labels import partial_labels
from pixelnoise.wsgcn import Terms, WsgcnObjective, laplacian_pairs

GNN_VARIANTS = (("gat", "dgl"), ("gat", "torch"), ("gcn", "dgl"), ("gcn", "torch"))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", action="append", default=[])
    parser.add_argument("--root", help="dataset root (default: the config's dataset.root)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid-images", type=int, default=8)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = load_config(args.configfile)
    dataset_cfg = dict(config["dataset"], **({"root": args.root} if args.root else {}))
    dataset = VocDataset.from_config(dataset_cfg)
    background = dataset.classes.background

    def allowed_classes(image_id):
        return ([background] if background is not None else []) + list(dataset.labels(image_id))

    # A one-class image needs no GNN (all its nodes take that class): leave those out, so that
    # the figures are those of images with something to correct.
    ids = [i for i in dataset.split_ids(args.split) if len(allowed_classes(i)) > 1]
    ids = ids[: args.images]
    net_cfg = config["clean_model"]
    model = SegmentationNet(
        net_cfg["backbone"], dataset.classes.num_classes, net_cfg["output_stride"], net_cfg["head"]
    ).eval()
    meta = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    rng = np.random.default_rng(args.seed)
    times: dict[str, list[float]] = {"clean-model features": [], "SLIC + graph (eq. 3-4)": []}
    images, graphs, inputs, feature_maps = [], [], [], []
    for image_id in ids:
        image = dataset.read_image(image_id)
        (_, features), seconds = timed(log_probs_and_features, model, image, meta, "cpu")
        times["clean-model features"].append(seconds)
        no_labels = np.full(image.shape[:2], VOID, np.uint8)
        graph, seconds = timed(
            build_graph,
            image,
            features.numpy(),
            no_labels,
            n_segments=config["graph"]["n_segments"],
            compactness=config["graph"]["compactness"],
        )
        times["SLIC + graph (eq. 3-4)"].append(seconds)
        labels = majority_vote(graph.segments, dataset.read_mask(image_id), graph.num_nodes)
        labels[rng.random(graph.num_nodes) < 0.5] = VOID
        allowed = allowed_classes(image_id)
        labels[~np.isin(labels, allowed)] = VOID  # void pixels' majority; keep only allowed
        images.append(image)
        graphs.append(graph)
        inputs.append(GraphInput(graph.features, graph.edges, labels, allowed))
        feature_maps.append(features.numpy())

    gnn = config["correct"]
    probabilities = {}  # (kind, backend) -> node probabilities per image
    options = {k: gnn[k] for k in ("mode", "hidden", "heads", "dropout", "lr", "weight_decay")}
    options.update(num_classes=dataset.classes.num_classes, seed=args.seed)
    for kind, backend in GNN_VARIANTS:
        # Warm-up: the first call imports DGL and TorchDynamo (via torch.optim), a per-job cost.
        correct_graphs(
            inputs[:2],
            kind=kind,
            backend=backend,
            epochs=1,
            batch_size=gnn["batch_size"],
            **options,
        )
        result, seconds = timed(
            correct_graphs,
            inputs,
            kind=kind,
            backend=backend,
            epochs=gnn["epochs"],
            batch_size=gnn["batch_size"],
            **options,
        )
        # Batched training has no per-image time: each image is charged the mean.
        name = f"{kind.upper()} training, {backend} ({gnn['epochs']} epochs)"
        times[name] = [seconds / len(inputs)] * len(inputs)
        probabilities[kind, backend] = result

    times["back-projection"], times["dense CRF"] = [], []
    full_method = probabilities["gat", gnn["backend"]]  # what detect_gat_crf refines
    for image, graph, probs in zip(images, graphs, full_method, strict=True):
        if probs is None:
            continue
        pixels, seconds = timed(node_probabilities_to_pixels, graph, probs)
        times["back-projection"].append(seconds)
        _, seconds = timed(dense_crf, image, pixels.astype(np.float32), **config["crf"])
        times["dense CRF"].append(seconds)

    times.update(wsgcn_times(config, dataset, ids, images, graphs, inputs, feature_maps, args))

    height, width = (
        statistics.median(i.shape[0] for i in images),
        statistics.median(i.shape[1] for i in images),
    )
    print(
        f"{len(ids)} images of {dataset.root} (median {height:.0f}x{width:.0f}), "
        f"{args.threads} threads, {config['graph']['n_segments']} superpixels "
        f"(median {statistics.median(g.num_nodes for g in graphs):.0f} nodes)\n"
    )
    print("| component | median s / image | mean s / image |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.3f} | {statistics.mean(values):.3f} |")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak_mb:.0f} MB")


def wsgcn_times(config, dataset, ids, images, graphs, inputs, feature_maps, args) -> dict:
    """Seconds per image of WSGCN's components (see the module docstring)."""
    settings, background = config["wsgcn"], dataset.classes.background
    times: dict[str, list[float]] = {"WSGCN partial labels (CRF)": []}
    for image_id, image in zip(ids, images, strict=True):
        mask = dataset.read_mask(image_id)
        classes = list(dataset.labels(image_id))
        cams = np.stack([(mask == c).astype(np.float32) * 0.9 + 0.05 for c in classes])
        _, seconds = timed(partial_labels, image, cams, classes, background,
                           seeds=settings["seeds"], crf=settings["seed_crf"])  # fmt: skip
        times["WSGCN partial labels (CRF)"].append(seconds)
    terms = Terms(True, True, settings["entropy_weight"], settings["laplacian_weight"],
                  settings["entropy_over"], settings["laplacian_on"])  # fmt: skip
    options = {k: settings[k] for k in ("hidden", "dropout", "lr", "weight_decay")}
    options.update(num_classes=dataset.classes.num_classes, seed=args.seed, heads=1,
                   mode="per_image", batch_size=config["correct"]["batch_size"],
                   backend=config["correct"]["backend"], kind="gcn_row")  # fmt: skip
    grids = [
        build_grid_graph(image, fmap, **config["grid_graph"])
        for image, fmap in zip(images[: args.grid_images], feature_maps, strict=False)
    ]
    for name, kind_graphs in (("superpixels", graphs), ("pixel grid", grids)):
        pairs = [
            laplacian_pairs(
                g.segments,
                g.edges,
                image,
                settings["sigma_rgb"],
                settings["sigma_xy"],
                settings["xy_unit"],
            )
            for g, image in zip(kind_graphs, images, strict=False)
        ]
        graph_inputs = []
        for graph, i, image_id in zip(kind_graphs, inputs, ids, strict=False):
            seeds = majority_vote(graph.segments, dataset.read_mask(image_id), graph.num_nodes)
            seeds[(np.arange(graph.num_nodes) % 2 == 1) | ~np.isin(seeds, i.allowed)] = VOID
            graph_inputs.append(GraphInput(graph.features, graph.edges, seeds, i.allowed,
                                           graph.weights))  # fmt: skip
        objective = WsgcnObjective(terms, background, dataset.classes.num_classes,
                                   [p for p, _ in pairs], [f for _, f in pairs])  # fmt: skip
        _, seconds = timed(correct_graphs, graph_inputs, objective=objective,
                           epochs=settings["steps"], **options)  # fmt: skip
        label = f"WSGCN GCN on {name} ({settings['steps']} steps)"
        times[label] = [seconds / len(graph_inputs)] * len(graph_inputs)
    times["WSGCN dense CRF"] = []
    for image in images:
        probs = np.full((2, *image.shape[:2]), 0.5, np.float32)
        _, seconds = timed(dense_crf, image, probs, **settings["crf"])
        times["WSGCN dense CRF"].append(seconds)
    return times


if __name__ == "__main__":
    main()
