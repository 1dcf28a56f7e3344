"""Stage: the clean model C, a segmentation network trained on D_c's ground truth only."""

from __future__ import annotations

from pixelnoise.run_data import RunData
from pixelnoise.training.segmentation import train_segmentation


def train_clean_model(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int,
    device: str,
    init_checkpoint: str | None = None,
) -> list[dict]:
    run = RunData.load(dataset_cfg, manifest_path)
    return train_segmentation(
        ids=run.ids("strong"),
        read_image=run.dataset.read_image,
        read_labels=run.dataset.read_mask,  # strong images only: D_c's masks are allowed
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        description="clean model",
        config_key="clean_model",
        init_checkpoint=init_checkpoint,
    )
