"""Stage: one segmentation checkpoint evaluated on the run's val images (reads val masks)."""

from __future__ import annotations

from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.evaluation import evaluate_checkpoint


def evaluate_segmentation(
    *,
    method: str,
    checkpoint: str,
    manifest_path: str,
    dataset_cfg: dict,
    evaluation: dict,
    crf: dict | None,
    out_dir: str,
    device: str,
    repeat: int = 0,
    seed: int | None = None,
) -> dict:
    return evaluate_checkpoint(
        checkpoint=checkpoint,
        dataset=VocDataset.from_config(dataset_cfg),
        ids=ids_with_role(read_manifest(manifest_path), "val"),
        split=dataset_cfg["val_split"],
        out_dir=out_dir,
        method=method,
        scales=evaluation["scales"],
        flip=evaluation["flip"],
        crf=crf,
        device=device,
        extra={"repeat": repeat, "seed": seed},
    )
