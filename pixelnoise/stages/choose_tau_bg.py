"""Stage: ``cam.tau_bg: auto`` chooses the CAM background threshold on D_c (pixelnoise.tau_bg
states the rule) and records the choice and its curve. Reads D_c's masks only."""

from __future__ import annotations

import json
import logging

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import write_text
from pixelnoise.metrics import write_rows
from pixelnoise.run_data import RunData
from pixelnoise.tau_bg import RULE, choose_tau, tau_curve

log = logging.getLogger(__name__)


def choose_tau_bg(
    *, manifest_path: str, dataset_cfg: dict, cam_paths: list[str], sweep: list[float],
    out_json: str, out_csv: str,
) -> dict:  # fmt: skip
    """Write the choice (``tau_bg``, the rule, D_c's mIoU at it, the images scored) to
    ``out_json`` and the D_c curve (one row per τ) to ``out_csv``. Without a background class
    τ_bg is unused: ``tau_bg`` is null and the curve empty."""
    run = RunData.load(dataset_cfg, manifest_path)
    ids = run.ids("strong")
    if run.background is None:
        choice = {"tau_bg": None, "rule": "unused: the dataset has no background class",
                  "chosen_on": "nothing"}  # fmt: skip
        curve = None
    else:
        curve = tau_curve(run, ArrayReader(cam_paths), ids, sweep, "tau_bg on D_c")
        tau = choose_tau(curve)
        best = curve.loc[curve["tau_bg"] == tau].iloc[0]
        choice = {"tau_bg": tau, "rule": RULE, "chosen_on": "D_c",
                  "miou": float(best["miou"]), "strong_images": int(best["images"])}  # fmt: skip
        log.info("tau_bg = %g (mIoU %.2f on %d D_c images)", tau, best["miou"], best["images"])
    if curve is None:
        write_text(out_csv, "tau_bg,images,miou,precision,coverage\n")
    else:
        write_rows(curve.to_dict("records"), out_csv)
    write_text(out_json, json.dumps(choice, indent=2) + "\n")
    return choice
