"""Stage: choose the loss threshold θ on D_c (Yi et al. Sec. III-B, Fig. 5).

On the strong images the CAM labels, their losses and the ground truth are all known, so the
accuracy and the coverage of "loss < θ" can be measured for every θ of a grid.
"""

from __future__ import annotations

import json
import logging

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import atomic_path, write_text
from pixelnoise.detect import choose_theta, plot_theta_curve, theta_curve, theta_grid
from pixelnoise.run_data import RunData

log = logging.getLogger(__name__)
#: Below this fraction of D_c's pixels kept, θ is reported with a warning.
LOW_COVERAGE = 0.05


def select_theta(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cam_paths: list[str],
    loss_paths: list[str],
    tau_bg: float,
    cfg: dict,
    out_json: str,
    out_csv: str,
    out_png: str,
) -> dict:
    run = RunData.load(dataset_cfg, manifest_path)
    cams, losses = ArrayReader(cam_paths), ArrayReader(loss_paths)
    ids = run.ids("strong")
    maps = (
        [losses[i][0] for i in ids],
        [run.cam_labels(cams, i, tau_bg) for i in ids],
        [run.dataset.read_mask(i) for i in ids],  # D_c: masks allowed
    )
    curve = theta_curve(*maps, theta_grid(**cfg["theta_grid"]))
    choice = choose_theta(curve, min_accuracy=cfg["min_accuracy"], fixed=cfg["theta"])
    # The chosen θ measured exactly (a fixed θ falls between grid points).
    exact = theta_curve(*maps, [choice["theta"]]).iloc[0]
    choice.update(accuracy=float(exact["accuracy"]), coverage=float(exact["coverage"]))
    choice["strong_images"] = len(ids)
    if not choice["coverage"] >= LOW_COVERAGE:
        choice["warning"] = (
            f"theta = {choice['theta']:.4g} keeps {100 * choice['coverage']:.2f}% of D_c's "
            f"labelled pixels (< {100 * LOW_COVERAGE:.0f}%): most weak images get few or no clean "
            "labels "
            "and fall back to CAM labels; raise detect.theta or lower detect.min_accuracy"
        )
        log.warning(choice["warning"])
    with atomic_path(out_csv) as tmp:
        curve.to_csv(tmp, index=False, float_format="%.6g")
    plot_theta_curve(curve, choice, out_png)
    write_text(out_json, json.dumps(choice, indent=2, default=float) + "\n")
    return choice
