"""Where an MLLC training step's time goes, against train_segmentation's step.

Times, on random crops with a config's ``segment.network`` and ``mllc`` settings (batch size,
crop, backbone, bfloat16, channels-last), the median milliseconds of one optimisation step
(forward, backward, optimiser) of:

- train_segmentation (cross-entropy on one batch), the reference;
- ``mllc_st`` (D_c batch, teacher pass on the weak views, student pass on the strong views);
- ``mllc`` (the same plus the dual graphs);
- the dual graphs alone (forward and backward on one batch's nodes), and their parts.

    .venv/bin/python benchmarks/mllc_step.py --configfile config/msrc21.yaml --classes 21 \
        --steps 15 --threads 2

``--precision bfloat16`` forces bfloat16 autocast where training would fall back to float32
(a CPU without native bfloat16), to measure what that fallback saves.

A step of ``mllc_st`` costs about two supervised steps plus a teacher forward pass (the student
trains on a D_c batch and a D_n batch); the graphs add the rest.
"""

from __future__ import annotations

import argparse
import copy
import math
import resource
import time
from collections.abc import Callable

import numpy as np
import torch

from pixelnoise.config import load_config


def median_ms(run: Callable[[], None], steps: int) -> float:
    run()  # warm-up: allocations, kernels
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", action="append", default=[])
    parser.add_argument("--classes", type=int, default=21)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision", choices=["config", "bfloat16", "float32"], default="config",
        help="config: what training runs for the config's amp on this CPU; bfloat16 forces "
        "bfloat16 autocast (emulated where the CPU has no native bfloat16)",
    )  # fmt: skip
    args = parser.parse_args()

    from pixelnoise import mllc as graph
    from pixelnoise.device import autocast_dtype
    from pixelnoise.losses import void_cross_entropy
    from pixelnoise.training.loop import autocast, build_optimizer
    from pixelnoise.training.mllc import MllcNet, dual_graph_losses, mllc_step
    from pixelnoise.training.segmentation import segmentation_network

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = load_config(args.configfile)
    net, settings = config["segment"]["network"], config["mllc"]
    classes, batch, crop = args.classes, net["batch_size"], net["crop_size"]
    names = [f"class{c}" for c in range(classes)]
    model = MllcNet(segmentation_network(net, names, None), classes, settings["embed_dim"],
                    settings["rounds"])  # fmt: skip
    if net["channels_last"]:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model.parameters(), net["optimizer"], 1e-5, 0.0)
    device = torch.device("cpu")
    dtype = {"bfloat16": torch.bfloat16, "float32": None}.get(args.precision)
    if args.precision == "config":
        dtype = autocast_dtype(device.type, net["amp"], "segment.network")
    images = [torch.rand(batch, 3, crop, crop) for _ in range(3)]
    masks = torch.randint(0, classes, (batch, crop, crop))
    allowed, no_extra = torch.ones(batch, classes, dtype=torch.bool), torch.full_like(masks, 255)
    inside = torch.ones(batch, crop, crop, dtype=torch.bool)
    mllc_batch = (images[0], masks, images[1], images[2], allowed, no_extra, inside)

    def optimise(loss_of: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, dtype):
                loss = loss_of()
            loss.backward()
            optimizer.step()

        return run

    supervised = optimise(lambda: void_cross_entropy(model(images[0]), masks))
    rows = [("train_segmentation step", supervised)]
    for name, graphs in (("mllc_st", False), ("mllc", True)):
        step = mllc_step(model, {**settings, "use_image_labels": False}, 0, graphs)
        rows.append((f"{name} step", optimise(lambda s=step: s(model, mllc_batch, device)[0])))

    # The dual graphs on one batch's nodes: every pixel of the strong views at the head's stride
    # (the student's graph with its losses; the teacher's and the D_c nodes' add two forwards).
    stride = net["output_stride"]
    cells = math.ceil(crop / stride) ** 2
    nodes = batch * cells
    x_s = torch.randn(nodes, settings["embed_dim"], requires_grad=True)
    x_c = torch.randn(nodes, classes).mul(3).softmax(1).requires_grad_()
    prototypes = graph.Prototypes(classes, settings["embed_dim"], settings["prototype_momentum"])
    labels = x_c.argmax(1).detach()
    prototypes.update(x_s.detach(), labels)
    banks = [copy.deepcopy(prototypes) for _ in range(settings["rounds"])]
    node_images = torch.arange(batch).repeat_interleave(cells)

    def backward(make: Callable[[], torch.Tensor]) -> Callable[[], None]:
        return lambda: make().sum().backward()

    rows += [
        (f"dual graphs, {nodes} nodes", backward(
            lambda: dual_graph_losses(model, banks, x_c.detach(), x_s, labels, node_images,
                                      settings))),
        ("  kNN graph (one round)", backward(
            lambda: graph.knn_affinity(x_s.detach(), settings["knn"]) @ x_c)),
        ("  class-level product (one round)", backward(
            lambda: graph.class_graph_product(x_c.detach(), x_s))),
        ("  contrastive terms (one round)", backward(
            lambda: graph.contrastive_loss(x_s, labels, prototypes, settings["pair_weight"],
                                           settings["temperature"], node_images))),
    ]  # fmt: skip
    precision = str(dtype or torch.float32).removeprefix("torch.")
    print(f"batch {batch}, crop {crop}, {net['backbone']}, amp {net['amp']} ({precision}), "
          f"{args.threads} threads, median of {args.steps}")  # fmt: skip
    print("| step | ms | × train_segmentation |\n|---|---:|---:|")
    reference = None
    for name, run in rows:
        ms = median_ms(run, args.steps)
        reference = reference or ms
        print(f"| {name} | {ms:.1f} | {ms / reference:.2f} |")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
