"""Stage: the final segmentation network (Yi et al. Sec. III-D).

Trained on D_c's ground truth plus the weak images' labels that the segmentation method
(registry, ``checkpoint``) names: a pseudo-label method's label maps; several methods' label
maps at once (``estimates``, Fan et al.: K labels per pixel, weighted selective training); or,
for ``full_gt``, the masks — an upper bound that reads weak masks. ``dc_only`` (the clean
model, D_c alone) is trained by its own rule.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from pixelnoise.data.palette import load_label_png
from pixelnoise.errors import ConfigError
from pixelnoise.losses import weighted_selective_cross_entropy
from pixelnoise.methods import CHECKPOINT, REGISTRY
from pixelnoise.metrics import VOID
from pixelnoise.run_data import RunData, label_files
from pixelnoise.training.loop import supervised_step
from pixelnoise.training.segmentation import train_segmentation


def training_set(
    run: RunData, method: str, label_dirs: list[str]
) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """Training ids and their label reader: D_c's masks, then pseudo labels (or, for a method
    declared to train on masks, the masks) of the weak images. For ``estimates`` methods the
    reader gives H x W x K maps, one per estimate in the registry's order; D_c images carry
    their mask as the only estimate (the others void), so they train on the ground truth
    alone."""
    spec = REGISTRY.get(method, CHECKPOINT)
    labels = spec.options.get("labels")
    if spec.stage != "train_segmentation" or labels not in ("masks", "pseudo", "estimates"):
        raise ConfigError(f"segmentation method {method!r} is not trained by train_segmentation")
    strong, weak = run.ids("strong"), run.ids("weak")
    if labels == "masks":  # declared reads_weak_masks in the registry: an upper bound
        # A weak mask that is unusable (a warning names it) leaves its image out.
        usable = [i for i in weak if run.dataset.scoring_mask(i) is not None]
        return strong + usable, run.dataset.read_mask
    strong_set = set(strong)
    if labels == "pseudo":
        files = label_files(method, weak, label_dirs)

        def read_labels(image_id: str) -> np.ndarray:
            # D_c's masks are allowed; a weak image is only ever seen through its pseudo label.
            if image_id in strong_set:
                return run.dataset.read_mask(image_id)
            return load_label_png(files[image_id])

        return strong + weak, read_labels
    # label_dirs are results/pseudo_labels/<method>/shard<k>: grouped by estimate.
    estimates = [key.split(":", 1)[1] for key in spec.upstream()]
    per_estimate = [
        label_files(f"{method} ({e})", weak, [d for d in label_dirs if Path(d).parent.name == e])
        for e in estimates
    ]

    def read_estimates(image_id: str) -> np.ndarray:
        if image_id in strong_set:
            mask = run.dataset.read_mask(image_id)
            stack = np.full((*mask.shape, len(estimates)), VOID, np.uint8)
            stack[..., 0] = mask
            return stack
        return np.stack([load_label_png(files[image_id]) for files in per_estimate], axis=-1)

    return strong + weak, read_estimates


def train_final_segmentation(
    *,
    method: str,
    manifest_path: str,
    dataset_cfg: dict,
    label_dirs: list[str],
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int,
    device: str,
    init_checkpoint: str | None = None,
    settings: dict | None = None,
) -> list[dict]:
    """``settings``: the method family's config section (``fan``: the WST sharpness; ``mllc``)."""
    run = RunData.load(dataset_cfg, manifest_path)
    spec = REGISTRY.get(method, CHECKPOINT)
    if spec.options.get("labels") == "mllc":
        return train_semi_supervised(run, spec, label_dirs, cfg, settings, checkpoint_path,
                                     log_path, seed, device, init_checkpoint)  # fmt: skip
    ids, read_labels = training_set(run, method, label_dirs)
    step = None
    if spec.options.get("labels") == "estimates":
        sharpness = settings["sharpness"] if spec.options["weighted"] else 0.0
        step = supervised_step(partial(weighted_selective_cross_entropy, sharpness=sharpness))
    return train_segmentation(
        ids=ids,
        read_image=run.dataset.read_image,
        read_labels=read_labels,
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        description=f"segmentation ({method})",
        step=step,
        init_checkpoint=init_checkpoint,
    )


def train_semi_supervised(
    run: RunData, spec, label_dirs, cfg, settings, checkpoint_path, log_path, seed, device, init
) -> list[dict]:
    """MLLC (registry ``labels: mllc``): D_c's masks and D_n's images, plus a pseudo-label
    method's maps of D_n where the method consumes one (``mllc_yi``)."""
    # The registry's module (pixelnoise.training.mllc), loaded by name: only MLLC jobs import
    # it, and only their code trigger covers it (pixelnoise/codehash.py).
    train_mllc = spec.implementation().train_mllc
    weak = run.ids("weak")
    extra = None
    if spec.upstream():
        files = label_files(spec.name, weak, label_dirs)
        extra = lambda image_id: load_label_png(files[image_id])  # noqa: E731
    return train_mllc(
        labelled=run.ids("strong"),
        unlabelled=weak,
        read_image=run.dataset.read_image,
        read_mask=run.dataset.read_mask,  # called on D_c only
        allowed=run.allowed_classes,
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        settings=settings,
        graphs=spec.options["graphs"],
        image_labels=spec.options["image_labels"],
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        init_checkpoint=init,
        read_extra=extra,
        description=f"segmentation ({spec.name})",
    )
