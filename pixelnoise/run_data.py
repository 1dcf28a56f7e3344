"""A run's data as stages and methods see it: the dataset, the manifest's roles, the CAM label
rule, and the artifacts a method consumes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pixelnoise.arraystore import ArrayReader
from pixelnoise.cam_labels import cam_label_map
from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import DatasetError
from pixelnoise.shards import shard_ids


def label_files(method: str, ids: list[str], label_dirs: list[str]) -> dict[str, Path]:
    """The pseudo-label PNG of every image of ``ids`` in ``label_dirs`` (a method's shard
    folders). A missing one means a folder was changed outside the workflow (Snakemake sees
    the folder, not its files): the error says to delete it so that the next run rebuilds it."""
    files = {p.stem: p for d in label_dirs for p in Path(d).glob("*.png")}
    missing = [i for i in ids if i not in files]
    if missing:
        damaged = sorted({d for d in label_dirs if not Path(d, "summary.csv").is_file()}
                         or label_dirs)  # fmt: skip
        raise DatasetError(
            f"{method}: no pseudo labels for {missing[:5]} in {label_dirs}: the folder was "
            f"changed outside the workflow; delete {' '.join(damaged)} and run snakemake "
            f"again to rebuild it"
        )
    return files


@dataclass
class RunData:
    """The dataset and manifest of a run, with the per-image look-ups stages need."""

    dataset: VocDataset
    manifest: object  # pandas.DataFrame

    @classmethod
    def load(cls, dataset_cfg: dict, manifest_path: str) -> RunData:
        return cls(VocDataset.from_config(dataset_cfg), read_manifest(manifest_path))

    @property
    def background(self) -> int | None:
        return self.dataset.classes.background

    @property
    def num_classes(self) -> int:
        return self.dataset.classes.num_classes

    def ids(self, *roles: str, shard: int = 0, shards: int = 1) -> list[str]:
        return shard_ids(ids_with_role(self.manifest, *roles), shard, shards)

    @cached_property
    def image_labels(self) -> dict[str, tuple[int, ...]]:
        return dict(zip(self.manifest["image_id"], self.manifest["labels"], strict=True))

    def allowed_classes(self, image_id: str) -> list[int]:
        """The image's own classes, plus background where the dataset has one."""
        labels = [int(c) for c in self.image_labels[image_id]]
        return ([self.background] if self.background is not None else []) + labels

    def cam_labels(self, cams: ArrayReader, image_id: str, tau_bg: float) -> np.ndarray:
        values, classes = cams.cams(image_id)
        return cam_label_map(values, classes, self.background, tau_bg)


def load_theta(path: str | Path) -> float:
    """θ from select_theta's ``theta.json`` (read here, not in pixelnoise.detect, so that the
    stages that read a run's data do not depend on the detection's code)."""
    with open(path) as handle:
        return float(json.load(handle)["theta"])


@dataclass
class MethodInputs:
    """What a method's implementation reads: the run's data, its consumed artifacts (registry
    key -> paths, e.g. ``"cams"`` -> Zarr stores, ``"node_probabilities:detect_gat"`` -> shard
    folders) and the settings its rule passes (``params``, e.g. ``tau_bg``, ``crf``)."""

    run: RunData
    artifacts: dict[str, list[str]]
    params: dict

    def paths(self, key: str) -> list[str]:
        if key not in self.artifacts:
            raise KeyError(f"artifact {key!r} was not given; have {sorted(self.artifacts)}")
        return list(self.artifacts[key])

    @cached_property
    def cams(self) -> ArrayReader:
        return ArrayReader(self.paths("cams"))

    @cached_property
    def losses(self) -> ArrayReader:
        return ArrayReader(self.paths("losses"))

    @cached_property
    def theta(self) -> float:
        return load_theta(self.paths("theta")[0])

    def files(self, key: str, suffix: str) -> dict[str, Path]:
        """Per-image files of a folder artifact, by image id (``suffix``: ``.npz``, ``.png``)."""
        return {p.stem: p for d in self.paths(key) for p in Path(d).glob(f"*{suffix}")}

    def cam_labels(self, image_id: str) -> np.ndarray:
        return self.run.cam_labels(self.cams, image_id, self.params["tau_bg"])
