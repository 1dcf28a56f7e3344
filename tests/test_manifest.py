"""choose_strong and the manifest on a tiny hand-made VOC tree (8x10 px)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pixelnoise.data.manifest import (
    build_manifest,
    choose_strong,
    ids_with_role,
    read_manifest,
    write_manifest,
)
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import ConfigError, DatasetError

H, W = 8, 10
TRAIN = ["t0", "t1", "t2", "t3", "t4", "t5"]
VAL = ["v0", "v1"]


@pytest.fixture
def tree(tmp_path) -> Path:
    """Classes background/cat/dog; image i of each split shows class 1 + i % 2."""
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    rows = ["image_id,labels"]
    for k, image_id in enumerate(TRAIN + VAL):
        Image.new("RGB", (W, H), (10 * k, 0, 0)).save(root / "JPEGImages" / f"{image_id}.jpg")
        mask = np.zeros((H, W), np.uint8)
        mask[2:6, 3:7] = 1 + k % 2
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
        rows.append(f"{image_id},0 {1 + k % 2}")
    (sets / "train.txt").write_text("\n".join(reversed(TRAIN)) + "\n")
    (sets / "val.txt").write_text("\n".join(VAL) + "\n")
    (root / "image_labels.csv").write_text("\n".join(rows) + "\n")
    meta = {"classes": ["background", "cat", "dog"], "background": 0, "void": 255}
    (root / "classes.json").write_text(json.dumps(meta))
    return root


def test_choose_strong_deterministic():
    ids = [f"img{i:02d}" for i in range(30)]
    first = choose_strong(ids, count=5, seed=3)
    assert first == sorted(first) and len(first) == 5 and set(first) <= set(ids)
    assert choose_strong(list(reversed(ids)), count=5, seed=3) == first  # input order irrelevant
    assert choose_strong(ids, count=5, seed=4) != first
    assert set(first) <= set(choose_strong(ids, count=10, seed=3))  # nested with one seed
    assert len(choose_strong(ids, fraction=0.1, seed=0)) == 3
    assert len(choose_strong(ids, fraction=0.001, seed=0)) == 1  # at least one
    assert choose_strong(ids, count=30) == ids


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"count": 2, "fraction": 0.5}, {"count": 2, "list_file": "x"}, {"count": 0},
     {"count": 31}, {"fraction": 0.0}, {"fraction": 1.5}],
)  # fmt: skip
def test_choose_strong_invalid(kwargs):
    with pytest.raises(ConfigError, match="split.strong"):
        choose_strong([f"img{i:02d}" for i in range(30)], **kwargs)


def test_choose_strong_list(tmp_path):
    path = tmp_path / "strong.txt"
    path.write_text("b\n\n a \n")
    assert choose_strong(["a", "b", "c"], list_file=path) == ["a", "b"]
    path.write_text("a\nzz\n")
    with pytest.raises(DatasetError, match=r"strong\.txt.*zz"):
        choose_strong(["a", "b", "c"], list_file=path)
    with pytest.raises(DatasetError, match=r"missing\.txt"):
        choose_strong(["a"], list_file=tmp_path / "missing.txt")


def test_build_manifest_roles_and_columns(tree):
    df = build_manifest(VocDataset(tree), strong={"count": 2}, seed=1, progress=False)
    assert list(df.columns) == ["image_id", "split", "role", "labels", "height", "width"]
    assert df["image_id"].tolist() == TRAIN + VAL  # sorted by split, then id
    assert df["split"].tolist() == ["train"] * 6 + ["val"] * 2
    strong = choose_strong(TRAIN, count=2, seed=1)
    assert ids_with_role(df, "strong") == strong
    assert ids_with_role(df, "weak") == [i for i in TRAIN if i not in strong]
    assert ids_with_role(df, "val") == VAL
    assert ids_with_role(df, "strong", "weak") == TRAIN
    assert df["labels"].tolist() == ["1", "2"] * 4  # background dropped
    assert (df["height"] == H).all() and (df["width"] == W).all()
    with pytest.raises(ValueError):
        ids_with_role(df, "unlabelled")


def test_manifest_round_trip(tree, tmp_path):
    df = build_manifest(VocDataset(tree), strong={"fraction": 0.5}, progress=False)
    path = tmp_path / "out" / "manifest.csv"
    write_manifest(df, path)
    back = read_manifest(path)
    assert back["labels"].tolist() == [(1,), (2,)] * 4
    assert back.drop(columns="labels").equals(df.drop(columns="labels"))
    write_manifest(back, path)  # tuple labels are written back as strings
    assert read_manifest(path)["labels"].tolist() == back["labels"].tolist()


def test_read_manifest_numeric_like_ids(tmp_path):
    path = tmp_path / "m.csv"
    df = pd.DataFrame({"image_id": ["007", "NA"], "split": "train", "role": "weak",
                       "labels": ["1 2", "3"], "height": 8, "width": 10})  # fmt: skip
    df.to_csv(path, index=False)
    assert read_manifest(path)["image_id"].tolist() == ["007", "NA"]


def test_read_manifest_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"nothere\.csv"):
        read_manifest(tmp_path / "nothere.csv")
    path = tmp_path / "m.csv"
    path.write_text("image_id,split,role\na,train,weak\n")
    with pytest.raises(DatasetError, match=r"m\.csv.*labels"):
        read_manifest(path)


def test_manifest_never_opens_weak_masks(tree, monkeypatch):
    ds = VocDataset(tree)
    strong = choose_strong(TRAIN, count=2, seed=0)
    for image_id in set(TRAIN) - set(strong):
        (tree / "SegmentationClass" / f"{image_id}.png").unlink()
    opened = []
    real_open = Image.open

    def spy(fp, *args, **kwargs):
        if not hasattr(fp, "read"):  # images are decoded from their bytes, masks from paths
            opened.append(Path(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", spy)
    df = build_manifest(ds, strong={"count": 2}, seed=0, progress=False)
    assert ids_with_role(df, "strong") == strong
    masks = {p.stem for p in opened if p.suffix == ".png"}
    assert masks == set(strong) | set(VAL)


def test_manifest_strong_list(tree):
    (tree / "strong.txt").write_text("t4\nt1\n")
    df = build_manifest(VocDataset(tree), strong={"list": tree / "strong.txt"}, progress=False)
    assert ids_with_role(df, "strong") == ["t1", "t4"]


def test_manifest_bad_inputs(tree):
    ds = VocDataset(tree)
    with pytest.raises(ConfigError, match="split.strong"):
        build_manifest(ds, strong={"count": 2, "fraction": 0.5}, progress=False)
    with pytest.raises(ConfigError, match="split.strong"):
        build_manifest(ds, strong={"number": 2}, progress=False)
    (tree / "ImageSets/Segmentation/val.txt").write_text("v0\nt3\n")
    with pytest.raises(DatasetError, match=r"t3 is in both .*train\.txt and .*val\.txt"):
        build_manifest(ds, strong={"count": 2}, progress=False)


def test_manifest_stops_on_bad_files(tree):
    ds = VocDataset(tree)
    strong = choose_strong(TRAIN, count=2, seed=0)
    weak = sorted(set(TRAIN) - set(strong))
    (tree / "SegmentationClass" / f"{strong[0]}.png").unlink()
    with pytest.raises(DatasetError, match=rf"{strong[0]}\.png"):
        build_manifest(ds, strong={"count": 2}, progress=False)
    save_label_png(tree / "SegmentationClass" / f"{strong[0]}.png", np.zeros((H, W), np.uint8))
    # A val image may lack its mask (it is then predicted, not scored), but a bad one stops.
    save_label_png(tree / "SegmentationClass" / "v1.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(DatasetError, match=r"v1\.png"):
        build_manifest(ds, strong={"count": 2}, progress=False)
    save_label_png(tree / "SegmentationClass" / "v1.png", np.zeros((H, W), np.uint8))
    jpg = tree / "JPEGImages" / f"{weak[0]}.jpg"
    jpg.write_bytes(jpg.read_bytes()[:100])
    with pytest.raises(DatasetError, match=rf"{weak[0]}\.jpg"):
        build_manifest(ds, strong={"count": 2}, progress=False)
    jpg.unlink()
    with pytest.raises(DatasetError, match=rf"image not found: .*{weak[0]}\.jpg"):
        build_manifest(ds, strong={"count": 2}, progress=False)


def test_manifest_image_without_labels(tree):
    text = (tree / "image_labels.csv").read_text().replace("t2,0 1\n", "")
    (tree / "image_labels.csv").write_text(text)
    with pytest.raises(DatasetError, match=r"image t2 has no image-level labels in .*labels\.csv"):
        build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)
