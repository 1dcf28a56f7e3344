"""CAMs on disk: one Zarr group per shard, one float16 array per image.

Each array is (classes present, H, W) with attributes ``image_id``, ``classes`` (dataset
class indices in channel order) and ``scales``; reading never needs the config.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import zarr

from pixelnoise.errors import PixelnoiseError


class CamWriter:
    """Write arrays into a Zarr group at a temporary path (see ``pixelnoise.atomic``)."""

    def __init__(self, path: str | os.PathLike, attrs: dict):
        self.group = zarr.open_group(store=str(path), mode="w")
        self.group.attrs.update(attrs)

    def write(self, image_id: str, cams: np.ndarray, classes: Iterable[int], **attrs) -> None:
        _, height, width = cams.shape
        array = self.group.create_array(
            name=image_id,
            shape=cams.shape,
            dtype="float16",
            chunks=(1, min(height, 512), min(width, 512)),
        )
        array[...] = cams.astype(np.float16)
        array.attrs.update({"image_id": image_id, "classes": [int(c) for c in classes], **attrs})


class CamReader:
    """Look up CAMs by image id across all shard stores.

    >>> # reader = CamReader(["results/cams/shard0.zarr"]); cams, classes = reader["img_1"]
    """

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self._where: dict[str, zarr.Group] = {}
        for path in paths:
            if not Path(path).exists():
                raise PixelnoiseError(f"CAM store not found: {path}")
            with warnings.catch_warnings():
                # Snakemake leaves a timestamp file in directory outputs; zarr warns about it.
                warnings.filterwarnings("ignore", message=".*not recognized as a component")
                group = zarr.open_group(store=str(path), mode="r")
                names = list(group.array_keys())
            for name in names:
                self._where[name] = group

    def __contains__(self, image_id: str) -> bool:
        return image_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._where))

    def __getitem__(self, image_id: str) -> tuple[np.ndarray, list[int]]:
        if image_id not in self._where:
            raise PixelnoiseError(f"no CAM stored for image {image_id!r}")
        array = self._where[image_id][image_id]
        return np.asarray(array[...], dtype=np.float32), list(array.attrs["classes"])
