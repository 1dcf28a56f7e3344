"""Stage: validate the dataset and write the manifest (image id, split, role, labels, size)."""

from __future__ import annotations

from pixelnoise.data.manifest import build_manifest as build
from pixelnoise.data.manifest import write_manifest
from pixelnoise.data.voc import VocDataset


def build_manifest(*, dataset_cfg: dict, split_cfg: dict, out_path: str):
    manifest = build(
        VocDataset.from_config(dataset_cfg),
        train_split=dataset_cfg["train_split"],
        val_split=dataset_cfg["val_split"],
        strong=split_cfg["strong"],
        seed=split_cfg["seed"],
    )
    write_manifest(manifest, out_path)
    return manifest
