"""Qualitative grids like Fig. 1, 3 and 4 of Yi et al.: one row per image, one column per stage.

Columns: the image, its ground truth, the pseudo labels of each stage that exists in the run
(CAM, detection, correction, CRF) and the final segmentation network's prediction. Reads weak
masks, so only evaluation/report rules call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the workflow never opens a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pixelnoise.atomic import atomic_path  # noqa: E402
from pixelnoise.data.palette import load_label_png, voc_palette  # noqa: E402
from pixelnoise.device import resolve_device  # noqa: E402
from pixelnoise.models.checkpoints import load_segmentation  # noqa: E402
from pixelnoise.prediction import predict_labels  # noqa: E402
from pixelnoise.run_data import RunData  # noqa: E402

VOID_COLOUR = (255, 255, 255)


def colourise(labels: np.ndarray) -> np.ndarray:
    """HxW class indices -> HxWx3 uint8 in the VOC colours, void white."""
    palette = np.asarray(voc_palette(), np.uint8).reshape(256, 3).copy()
    palette[255] = VOID_COLOUR
    return palette[labels]


def sample_ids(ids: Sequence[str], count: int, seed: int) -> list[str]:
    """A fixed, seeded sample (sorted, so the grid's rows are stable)."""
    rng = np.random.default_rng(seed)
    ids = sorted(ids)
    chosen = rng.choice(len(ids), size=min(count, len(ids)), replace=False)
    return [ids[i] for i in sorted(chosen)]


def qualitative_grid(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    label_dirs: dict[str, list[str]],
    titles: dict[str, str],
    checkpoint: str | None,
    out_path: str,
    count: int,
    seed: int,
    device: str,
) -> list[str]:
    """Draw the grid for ``count`` weak images; ``label_dirs`` maps stage name -> PNG dirs,
    ``titles`` stage name -> column title, in column order."""
    run = RunData.load(dataset_cfg, manifest_path)
    ids = sample_ids(run.ids("weak"), count, seed)
    stages = list(titles)
    files = {s: {p.stem: p for d in label_dirs[s] for p in Path(d).glob("*.png")} for s in stages}
    model = meta = None
    if checkpoint:
        model, meta = load_segmentation(checkpoint)
        dev = resolve_device(device)
        model.to(dev)
    headers = ["image", "ground truth", *titles.values()]
    if model is not None:
        headers.append(f"prediction ({Path(checkpoint).stem})")
    fig, axes = plt.subplots(
        len(ids), len(headers), figsize=(2.2 * len(headers), 1.8 * len(ids)), squeeze=False
    )
    for row, image_id in enumerate(ids):
        image = run.dataset.read_image(image_id)
        # Weakly labelled data may have no (usable) mask: its ground-truth panel stays white.
        truth = run.dataset.scoring_mask(image_id)
        if truth is None:
            truth = np.full(image.shape[:2], 255, np.uint8)
        panels = [image, colourise(truth)]
        panels += [colourise(load_label_png(files[s][image_id])) for s in stages]
        if model is not None:
            panels.append(colourise(predict_labels(model, image, meta, device=dev)))
        for col, panel in enumerate(panels):
            axis = axes[row, col]
            axis.imshow(panel, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(headers[col], fontsize=8)
        axes[row, 0].set_ylabel(image_id, fontsize=7)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return ids
