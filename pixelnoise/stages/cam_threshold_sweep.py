"""Stage: CAM pseudo-label quality on the weak set for each background threshold τ (an
evaluation rule: it reads weak masks; ``cam.tau_bg: auto`` chooses on D_c instead, in
choose_tau_bg)."""

from __future__ import annotations

import pandas as pd

from pixelnoise.arraystore import ArrayReader
from pixelnoise.metrics import write_rows
from pixelnoise.run_data import RunData
from pixelnoise.tau_bg import tau_curve


def cam_threshold_sweep(
    *, manifest_path: str, dataset_cfg: dict, cam_paths: list[str], sweep: list[float], out: str
) -> pd.DataFrame:
    """Quality of thresholded CAMs for each τ of the sweep.

    With a background class, pixels below τ become background; without one they are left
    unlabelled, so the sweep shows the precision/coverage trade-off of CAM seeds.
    """
    run = RunData.load(dataset_cfg, manifest_path)
    curve = tau_curve(run, ArrayReader(cam_paths), run.ids("weak"), sweep, "CAM sweep")
    write_rows(curve.to_dict("records"), out)
    return curve
