"""Dataset rerun triggers by role (pixelnoise/data/fingerprints.py)."""

import os
from pathlib import Path

import pytest

from pixelnoise.data.fingerprints import DatasetFingerprints
from pixelnoise.data.manifest import build_manifest, ids_with_role
from pixelnoise.data.synthetic import generate_dataset
from pixelnoise.data.voc import VocDataset
from pixelnoise.shards import shard_ids

DATASET = {"train_split": "train", "val_split": "val"}
SPLIT = {"seed": 0, "strong": {"count": 3}}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("voc")
    generate_dataset(root, seed=0, n_train=10, n_val=3, size_range=(32, 40))
    return root


def fingerprints(root: Path, shards: int = 2) -> DatasetFingerprints:
    return DatasetFingerprints({**DATASET, "root": str(root)}, SPLIT, shards)


def touch(path: Path) -> None:
    """A new modification time, the same content."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_roles_and_shards_are_the_manifests(root):
    manifest = build_manifest(VocDataset(root), strong=SPLIT["strong"], seed=0, progress=False)
    found = fingerprints(root)
    for role in ("strong", "weak", "val"):
        assert found.roles[role] == sorted(ids_with_role(manifest, role))
    weak = ids_with_role(manifest, "weak")
    assert found.ids(["weak"], shard=1) == shard_ids(weak, 1, 2)


def test_an_edited_file_changes_the_fingerprints_of_its_role_and_shard_only(root):
    before = fingerprints(root)
    weak = before.roles["weak"][0]
    shard = next(s for s in range(2) if weak in before.ids(["weak"], shard=s))
    specs = {
        ("images:strong+weak", None),
        ("images:weak", shard),
        ("images:weak", 1 - shard),
        ("masks:weak", None),
        ("masks:strong", None),
        ("images:val;masks:val", None),
    }
    old = {(spec, s): before.reads(spec, s) for spec, s in specs}
    manifest = before.manifest()
    touch(VocDataset(root).image_path(weak))
    after = fingerprints(root)
    changed = {key for key in specs if after.reads(*key) != old[key]}
    assert changed == {("images:strong+weak", None), ("images:weak", shard)}
    assert after.manifest() == manifest  # the size in its header is the same

    old = {key: after.reads(*key) for key in specs}
    touch(VocDataset(root).mask_path(before.roles["val"][0]))
    again = fingerprints(root)
    assert {key for key in specs if again.reads(*key) != old[key]} == {
        ("images:val;masks:val", None)
    }


def test_a_missing_mask_counts_and_an_unknown_kind_is_an_error(root, tmp_path):
    found = fingerprints(root)
    mask = VocDataset(root).mask_path(found.roles["val"][-1])
    before = found.reads("masks:val")
    moved = tmp_path / mask.name
    mask.rename(moved)
    try:
        assert fingerprints(root).reads("masks:val") != before
    finally:
        moved.rename(mask)
    with pytest.raises(ValueError, match="kind"):
        found.files("labels", ["val"])
