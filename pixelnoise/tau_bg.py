"""The CAM background threshold τ_bg: the quality of CAM labels over a sweep of τ, and the rule
by which ``cam.tau_bg: auto`` chooses τ.

The rule: among ``cam.tau_bg_sweep``, the τ whose CAM labels (background below τ) reach the
highest mIoU against the masks of D_c (the strong images); on a tie, the smaller τ. Only D_c's
masks are read, so a user with no weak masks repeats the choice on their own data, and the
pseudo-label tables, which score the weak images, were not tuned on them. Without a background
class τ_bg is unused (every pixel takes its strongest present class): ``auto`` chooses nothing.

>>> import pandas as pd
>>> choose_tau(pd.DataFrame({"tau_bg": [0.1, 0.2, 0.3], "miou": [40.0, 45.0, 45.0]}))
0.2
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pixelnoise.arraystore import ArrayReader
from pixelnoise.cam_labels import cam_labels
from pixelnoise.data.voc import class_info
from pixelnoise.errors import ConfigError
from pixelnoise.metrics import VOID, score_label_maps

#: The value of ``cam.tau_bg`` that chooses τ on D_c.
AUTO = "auto"
#: Where a run records the choice and its D_c curve (relative to the working directory).
CHOICE_PATH, CURVE_PATH = "results/cams/tau_bg.json", "results/cams/tau_bg_curve.csv"
#: The rule, as recorded in the choice and stated by the report.
RULE = "the tau of cam.tau_bg_sweep with the highest mIoU of CAM labels on D_c (ties: smaller)"


def tau_curve(run, cams: ArrayReader, ids: Sequence[str], taus: Sequence[float], desc: str):
    """CAM-label quality for each τ on the images ``ids`` that have a mask: one row per τ
    (``tau_bg``, ``images``, ``images_without_mask``, mIoU, precision, coverage, per-class IoU).
    Pixels below τ are background, or void without a background class."""
    low_label = VOID if run.background is None else run.background
    taus = sorted({float(t) for t in taus})
    cache: dict[str, tuple[np.ndarray, list[int]]] = {}

    def at(tau: float) -> Callable[[str], np.ndarray]:
        def predict(image_id: str) -> np.ndarray:
            if image_id not in cache:  # every threshold reuses the image's CAMs
                cache.clear()
                cache[image_id] = cams.cams(image_id)
            return cam_labels(*cache[image_id], low_label, tau)

        return predict

    matrices, scored = score_label_maps(run.dataset, ids, {t: at(t) for t in taus}, desc)
    names = list(run.dataset.classes.names)
    counts = {"images": len(scored), "images_without_mask": len(ids) - len(scored)}
    return pd.DataFrame([{"tau_bg": t, **counts, **matrices[t].summary(names)} for t in taus])


def choose_tau(curve: pd.DataFrame) -> float:
    """The rule (module doc): the τ of the highest mIoU, the smaller one on a tie."""
    scored = curve.dropna(subset=["miou"]).sort_values("tau_bg", kind="stable")
    if scored.empty:
        raise ValueError("no tau_bg was scored: D_c has no usable mask")
    return float(scored.loc[scored["miou"].idxmax(), "tau_bg"])


def used(dataset_cfg: dict) -> bool:
    """Whether the dataset has a background class, so that τ_bg applies; read from the config
    and classes.json, before a synthetic dataset is generated (its classes have one)."""
    background = dataset_cfg.get("background", "auto")
    root = Path(dataset_cfg["root"])
    if dataset_cfg.get("kind") == "synthetic" and not (root / "classes.json").is_file():
        return background is not None  # "auto": the generator's background class
    return class_info(root, dataset_cfg.get("classes"), background).background is not None


def resolve_tau_bg(setting: float | str | None, choice_paths: Sequence[str]) -> float | None:
    """The τ_bg a job applies: the fixed ``cam.tau_bg``, or with ``auto`` the choice recorded
    in ``choice_paths`` (the rule's ``tau_bg`` input: choose_tau_bg's JSON); None when the
    dataset has no background class (τ_bg unused: the rules pass None)."""
    if setting is None:
        return None
    if setting != AUTO:
        return float(setting)
    if len(choice_paths) != 1:
        raise ConfigError(
            f"cam.tau_bg: auto needs the choice of choose_tau_bg as the rule's tau_bg input, "
            f"got {list(choice_paths)}"
        )
    return read_choice(choice_paths[0])["tau_bg"]


def run_tau_bg(setting: float | str, workdir: str | Path = ".") -> float | None:
    """The τ_bg a finished run in ``workdir`` applied (its choice, with ``auto``)."""
    return resolve_tau_bg(setting, [str(Path(workdir, CHOICE_PATH))] if setting == AUTO else [])


def read_choice(path: str | Path) -> dict:
    with open(path) as handle:
        return json.load(handle)
