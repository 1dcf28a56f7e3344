"""Why detection and correction help or not, from a finished run (reads weak masks: analysis).

Prints, for the weak images of the run in ``--run`` (its config given as for Snakemake):

- the clean model's loss of the CAM labels (the quantity θ thresholds), by kind of pixel:
  right object labels, objects the CAM calls background (missed), background the CAM calls an
  object (false), right background; with the share of each above θ (removed by detection);
- for each ``--methods`` method, how often its labels are right on the pixels ``detect`` left
  unlabelled (the correction's fill), next to the CAM's labels there.

    .venv/bin/python benchmarks/pseudo_label_anatomy.py --run . \
        --methods detect_gat detect_gat_crf
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from pixelnoise.arraystore import ArrayReader
from pixelnoise.config import load_config
from pixelnoise.data.palette import load_label_png
from pixelnoise.metrics import VOID
from pixelnoise.run_data import RunData, load_theta
from pixelnoise.tau_bg import run_tau_bg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=".", help="the run's working directory")
    parser.add_argument("--configfile", action="append", default=[])
    parser.add_argument("--methods", nargs="*", default=["detect_gat", "detect_gat_crf"])
    args = parser.parse_args()
    config = load_config(args.configfile)
    os.chdir(args.run)  # the config's paths are relative to the run, as for Snakemake
    results = Path("results")
    run = RunData.load(config["dataset"], str(results / "data/manifest.csv"))
    if run.background is None:
        raise SystemExit("the analysis needs a dataset with a background class")
    cams = ArrayReader(sorted(results.glob("cams/shard*.zarr")))
    losses = ArrayReader(sorted(results.glob("detect/losses/shard*.zarr")))
    theta = load_theta(results / "detect/theta.json")
    tau = run_tau_bg(config["cam"]["tau_bg"])  # the run's choice, with `auto`

    def labels(method: str, image_id: str) -> np.ndarray:
        (path,) = results.glob(f"pseudo_labels/{method}/shard*/{image_id}.png")
        return load_label_png(path)

    kinds = {"right object": [], "missed object": [], "false object": [], "right background": []}
    fill = {name: [0, 0] for name in ["cam", *args.methods]}  # right, undetected pixels
    for image_id in run.ids("weak"):
        if not run.dataset.has_mask(image_id):
            continue
        truth = run.dataset.read_mask(image_id)
        cam = run.cam_labels(cams, image_id, tau)
        loss = losses[image_id][0].reshape(truth.shape)
        valid, objects = truth != VOID, (truth != VOID) & (truth != run.background)
        background = valid & ~objects
        kinds["right object"].append(loss[objects & (cam == truth)])
        kinds["missed object"].append(loss[objects & (cam == run.background)])
        kinds["false object"].append(loss[background & (cam != run.background)])
        kinds["right background"].append(loss[background & (cam == run.background)])
        undetected = valid & (labels("detect", image_id) == VOID)
        for name, counts in fill.items():
            predicted = cam if name == "cam" else labels(name, image_id)
            counts[0] += int((undetected & (predicted == truth)).sum())
            counts[1] += int(undetected.sum())

    if not kinds["right background"]:
        raise SystemExit("no weak image of the run has a mask: nothing to analyse")
    print(f"θ = {theta:.3f}\n| CAM label | pixels | median loss | above θ |\n|---|---:|---:|---:|")
    for kind, parts in kinds.items():
        values = np.concatenate(parts)
        removed = (values > theta).mean()
        print(f"| {kind} | {values.size} | {np.median(values):.3f} | {removed:.3f} |")
    print("\n| labels | right on the pixels detect leaves unlabelled |\n|---|---:|")
    for name, (right, total) in fill.items():
        print(f"| {name} | {right / total:.3f} |" if total else f"| {name} | - |")


if __name__ == "__main__":
    main()
