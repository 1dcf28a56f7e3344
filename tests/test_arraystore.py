import numpy as np
import pytest

from pixelnoise.arraystore import ArrayReader, ArrayWriter
from pixelnoise.atomic import atomic_path
from pixelnoise.errors import PixelnoiseError
from pixelnoise.shards import shard_ids


def test_round_trip_across_shards(tmp_path):
    rng = np.random.default_rng(0)
    data = {f"img{i}": rng.random((i + 1, 7, 9)).astype(np.float32) for i in range(5)}
    ids = sorted(data)
    for shard in range(2):
        with atomic_path(tmp_path / f"shard{shard}.zarr", directory=True) as tmp:
            writer = ArrayWriter(tmp, {"scales": [1.0]})
            for image_id in shard_ids(ids, shard, 2):
                writer.write(image_id, data[image_id], classes=list(range(len(data[image_id]))))
    reader = ArrayReader([tmp_path / "shard0.zarr", tmp_path / "shard1.zarr"])
    assert list(reader) == ids and len(reader) == 5
    cams, classes = reader.cams("img3")
    assert classes == [0, 1, 2, 3]
    assert cams.dtype == np.float32
    assert np.allclose(cams, data["img3"], atol=1e-3)  # stored as float16
    assert not list(tmp_path.glob(".*tmp"))


def test_missing_store_and_image(tmp_path):
    with pytest.raises(PixelnoiseError, match="not found"):
        ArrayReader([tmp_path / "none.zarr"])
    ArrayWriter(tmp_path / "empty.zarr", {})
    with pytest.raises(PixelnoiseError, match="no array stored for image 'x'"):
        ArrayReader([tmp_path / "empty.zarr"])["x"]


def test_shards_partition_ids():
    ids = [f"i{k}" for k in range(10)]
    parts = [shard_ids(ids, s, 3) for s in range(3)]
    assert sorted(sum(parts, [])) == sorted(ids)
    with pytest.raises(Exception, match="shards"):
        shard_ids(ids, 3, 3)
