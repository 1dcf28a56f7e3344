"""Per-image arrays on disk: one Zarr group per shard, one float16 array per image.

CAMs are stored as (classes present, H, W) with attribute ``classes`` (dataset class indices
in channel order); loss maps as (H, W). Attributes travel with the arrays, so reading never
needs the config.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import zarr

from pixelnoise.atomic import file_in
from pixelnoise.errors import PixelnoiseError


class ArrayWriter:
    """Write arrays into a new Zarr group (give it a temporary path: see ``pixelnoise.atomic``)."""

    def __init__(self, path: str | os.PathLike, attrs: dict):
        self.path = Path(path)
        self.group = zarr.open_group(store=str(path), mode="w")
        self.group.attrs.update(attrs)

    def write(self, image_id: str, values: np.ndarray, **attrs) -> None:
        file_in(self.path, image_id)  # an id is an array's name, never a path
        # One chunk per channel plane: readers always want whole images.
        chunks = (1,) * (values.ndim - 2) + tuple(min(n, 512) for n in values.shape[-2:])
        array = self.group.create_array(
            name=image_id, shape=values.shape, dtype="float16", chunks=chunks
        )
        array[...] = values.astype(np.float16)
        array.attrs.update({"image_id": image_id, **attrs})


class ArrayReader:
    """Look up arrays by image id across all shard stores.

    >>> # cams = ArrayReader(["results/cams/shard0.zarr"]); values, attrs = cams["img_1"]
    """

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self._where: dict[str, zarr.Group] = {}
        for path in paths:
            if not Path(path).exists():
                raise PixelnoiseError(f"array store not found: {path}")
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

    def __getitem__(self, image_id: str) -> tuple[np.ndarray, dict]:
        if image_id not in self._where:
            raise PixelnoiseError(f"no array stored for image {image_id!r}")
        array = self._where[image_id][image_id]
        return np.asarray(array[...], dtype=np.float32), dict(array.attrs)

    def cams(self, image_id: str) -> tuple[np.ndarray, list[int]]:
        """A CAM store's maps and the dataset classes of their channels."""
        values, attrs = self[image_id]
        return values, list(attrs["classes"])
