"""Stage: train the CAM classifier on every train image's image-level labels."""

from __future__ import annotations

from pixelnoise.data.manifest import ids_with_role
from pixelnoise.run_data import RunData
from pixelnoise.training.classifier import train_classifier as train


def train_classifier(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int,
    device: str,
    config_key: str = "classifier",
) -> list[dict]:
    run = RunData.load(dataset_cfg, manifest_path)
    return train(
        dataset=run.dataset,
        ids=ids_with_role(run.manifest, "strong", "weak"),  # manifest order
        cfg=cfg,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        config_key=config_key,
    )
