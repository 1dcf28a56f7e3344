"""Tests for the deterministic synthetic dataset generator."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import regionprops

from pixelnoise.config import schema_defaults
from pixelnoise.data import synthetic
from pixelnoise.data.palette import load_label_png
from pixelnoise.data.synthetic import CLASS_NAMES, CLASS_SPECS, generate_dataset, render_sample
from pixelnoise.errors import ConfigError

N_OBJECT_CLASSES = len(CLASS_NAMES) - 1
SYNTHETIC = schema_defaults()["dataset"]["synthetic"]  # seed, n_train, n_val, size_range
SIZE_RANGE = tuple(SYNTHETIC["size_range"])


def _read_labels_csv(root: Path) -> dict[str, set[int]]:
    with open(root / "image_labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["image_id", "labels"]
        return {row["image_id"]: {int(x) for x in row["labels"].split()} for row in reader}


def _all_files(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gen") / "syn"
    generate_dataset(root, seed=0, n_train=12, n_val=4, size_range=SIZE_RANGE)
    return root


def test_layout(small: Path):
    train = (small / "ImageSets/Segmentation/train.txt").read_text().split()
    val = (small / "ImageSets/Segmentation/val.txt").read_text().split()
    assert train == [f"syn_{i:05d}" for i in range(12)]
    assert len(val) == 4 and val == sorted(val) and not set(val) & set(train)
    for image_id in train + val:
        assert (small / "JPEGImages" / f"{image_id}.jpg").is_file()
        assert (small / "SegmentationClass" / f"{image_id}.png").is_file()
    assert sorted(_read_labels_csv(small)) == sorted(train + val)
    meta = json.loads((small / "classes.json").read_text())
    assert meta == {"classes": list(CLASS_NAMES), "background": 0, "void": 255}
    assert meta["classes"][0] == "background" and len(meta["classes"]) >= 7
    assert len(set(meta["classes"])) == len(meta["classes"])
    readme = (small / "README.md").read_text()
    assert "seed" in readme and "n_train" in readme


def test_files_are_valid_images_and_labels_match_masks(small: Path):
    labels = _read_labels_csv(small)
    sizes = set()
    for image_id, listed in labels.items():
        with Image.open(small / "JPEGImages" / f"{image_id}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB"
            w, h = im.size
        with Image.open(small / "SegmentationClass" / f"{image_id}.png") as pm:
            assert pm.mode == "P"
        mask = load_label_png(small / "SegmentationClass" / f"{image_id}.png")
        assert mask.shape == (h, w)
        assert 112 <= h <= 160 and 112 <= w <= 160
        sizes.add((h, w))
        values = set(np.unique(mask).tolist())
        assert values <= set(range(len(CLASS_NAMES))) | {255}
        assert 0 in values  # there is always background
        assert listed == values - {0, 255}
        assert 1 <= len(listed) <= 3
    assert len(sizes) > 4  # heights and widths vary


def test_void_border_surrounds_objects(small: Path):
    mask = load_label_png(small / "SegmentationClass" / "syn_00000.png")
    obj = (mask > 0) & (mask < 255)
    void = mask == 255
    assert void.any()
    # no object pixel touches the background directly: the void band separates them
    bg = mask == 0
    horizontal = obj[:, 1:] & bg[:, :-1] | obj[:, :-1] & bg[:, 1:]
    vertical = obj[1:, :] & bg[:-1, :] | obj[:-1, :] & bg[1:, :]
    assert not horizontal.any() and not vertical.any()
    _, lab0 = render_sample(0, "train", 0, void_border=0)
    assert not (lab0 == 255).any()
    assert set(np.unique(lab0[void]).tolist()) - {0} <= set(np.unique(mask[obj]).tolist())


def test_same_seed_gives_identical_bytes(small: Path, tmp_path: Path):
    again = tmp_path / "again"
    generate_dataset(again, seed=0, n_train=12, n_val=4, size_range=SIZE_RANGE)
    assert _all_files(small) == _all_files(again)


def test_different_seed_gives_different_images(small: Path, tmp_path: Path):
    other = tmp_path / "other"
    generate_dataset(other, seed=1, n_train=12, n_val=4, size_range=SIZE_RANGE)
    a, b = _all_files(small), _all_files(other)
    assert a.keys() == b.keys()
    jpgs = [k for k in a if k.endswith(".jpg")]
    assert sum(a[k] != b[k] for k in jpgs) == len(jpgs)
    assert a["image_labels.csv"] != b["image_labels.csv"]


def test_adding_images_does_not_reshuffle_existing_ones(small: Path, tmp_path: Path):
    fewer = tmp_path / "fewer"
    generate_dataset(fewer, seed=0, n_train=5, n_val=2, size_range=SIZE_RANGE)
    a, b = _all_files(small), _all_files(fewer)
    for key, data in b.items():
        if key.endswith((".jpg", ".png")):
            assert a[key] == data, key


def test_atomic_write_leaves_no_temp_dirs(tmp_path: Path, monkeypatch):
    root = tmp_path / "syn"
    generate_dataset(root, seed=3, n_train=2, n_val=1, size_range=SIZE_RANGE)
    # replaces the previous dataset
    generate_dataset(root, seed=4, n_train=3, n_val=1, size_range=SIZE_RANGE)
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]
    assert len(list((root / "JPEGImages").iterdir())) == 4

    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return render_sample(*args, **kwargs)

    monkeypatch.setattr(synthetic, "render_sample", failing)
    with pytest.raises(RuntimeError, match="boom"):
        generate_dataset(tmp_path / "broken", seed=0, n_train=5, n_val=1, size_range=SIZE_RANGE)
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_train": 0},
        {"n_val": -1},
        {"size_range": (160, 112)},
        {"max_objects": 4},
        {"context_prob": 1.5},
    ],
)
def test_invalid_parameters_raise(tmp_path: Path, kwargs):
    with pytest.raises(ConfigError):
        generate_dataset(tmp_path / "x", **{**SYNTHETIC, **kwargs})
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def samples() -> list[tuple[np.ndarray, np.ndarray]]:
    return [render_sample(7, "train", i) for i in range(60)]


def test_all_classes_appear_and_object_counts(samples):
    counts = Counter()
    per_image = Counter()
    for _, lab in samples:
        present = set(np.unique(lab).tolist()) - {0, 255}
        assert 1 <= len(present) <= 3
        per_image[len(present)] += 1
        counts.update(present)
    assert set(counts) == set(range(1, N_OBJECT_CLASSES + 1))
    assert min(counts.values()) >= 5
    assert per_image[1] > 0 and per_image[2] > 0 and per_image[3] > 0


def test_objects_are_reasonably_sized(samples):
    fractions = []
    for _, lab in samples:
        obj = (lab > 0) & (lab < 255)
        fractions.append(obj.mean())
    fractions = np.array(fractions)
    assert 0.04 < np.median(fractions) < 0.4
    assert fractions.min() > 0.01


def _single_objects(n_per_class: int = 4) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Images with exactly one (unoccluded) object, grouped by class."""
    by_class: dict[int, list] = {c: [] for c in range(1, N_OBJECT_CLASSES + 1)}
    index = 0
    while min(len(v) for v in by_class.values()) < n_per_class:
        img, lab = render_sample(11, "val", index, max_objects=1, void_border=0)
        index += 1
        assert index < 400, "classes are not sampled uniformly enough"
        (c,) = set(np.unique(lab).tolist()) - {0}
        by_class[c].append((img, lab))
    return by_class


@pytest.fixture(scope="module")
def single_objects():
    return _single_objects()


def test_class_shapes_differ(single_objects):
    name = {i: n for i, n in enumerate(CLASS_NAMES)}
    solidity, holes = {}, {}
    for c, items in single_objects.items():
        sol, hol = [], []
        for _, lab in items:
            obj = lab == c
            (props,) = regionprops(obj.astype(np.uint8))
            sol.append(props.solidity)
            hol.append(ndimage.binary_fill_holes(obj).sum() / obj.sum() - 1.0)
        solidity[name[c]] = float(np.median(sol))
        holes[name[c]] = float(np.median(hol))
    for convex in ("disc", "box", "wedge"):
        assert solidity[convex] > 0.9, solidity
    for concave in ("star", "cross", "crescent"):
        assert solidity[concave] < 0.85, solidity
    assert holes["ring"] > 0.2, holes
    assert max(v for k, v in holes.items() if k != "ring") < 0.05, holes


def test_each_object_has_a_discriminative_minority_part(single_objects):
    for c, items in single_objects.items():
        part_rgb = np.array(CLASS_SPECS[c - 1].part_rgb, np.float32)
        fractions = []
        for img, lab in items:
            obj = lab == c
            dist = np.abs(img[obj].astype(np.float32) - part_rgb).max(axis=1)
            fractions.append(float((dist < 45).mean()))
        # the part is present but covers only a minority of the object (25-40 % by design)
        assert 0.15 < np.median(fractions) < 0.45, (CLASS_NAMES[c], fractions)


def test_context_regions_are_background():
    # with context_prob=1, every image containing "disc" has a water band at the bottom,
    # labelled background
    water = np.array([60, 105, 160], np.float32)
    disc = CLASS_NAMES.index("disc")
    checked = 0
    for i in range(80):
        img, lab = render_sample(2, "train", i, context_prob=1.0, context_false_prob=0.0)
        present = set(np.unique(lab).tolist()) - {0, 255}
        if present != {disc}:
            continue
        bottom_bg = lab[-1] == 0
        colours = img[-1][bottom_bg].astype(np.float32)
        assert np.median(np.abs(colours - water).max(axis=1)) < 60
        checked += 1
    assert checked >= 2
