"""VocDataset on tiny hand-made VOC trees (8x10 px) and on the real MSRC-21 tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelnoise.data import voc
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import ClassInfo, VocDataset
from pixelnoise.errors import ConfigError, DatasetError

H, W = 8, 10
MSRC = Path(__file__).parents[2] / "shared/datasets/msrc21"


def _mask(*values: int) -> np.ndarray:
    """Vertical stripes of the given values; the last row is void."""
    m = np.zeros((H, W), np.uint8)
    for k, v in enumerate(values):
        m[:, k * W // len(values) :] = v
    m[-1] = 255
    return m


MASKS = {"a": _mask(0, 1), "b": _mask(2, 3), "c": _mask(1), "d": _mask(3, 2, 0), "e": _mask(0, 2)}
CSV = {"a": "0 1", "b": "3 2", "c": "1", "d": "2 3", "e": "2"}


def make_tree(root: Path, names, background, *, masks=MASKS, labels=CSV) -> Path:
    """Write a VOC tree: train a b c d, val e (with a blank line), classes.json, csv."""
    rng = np.random.default_rng(0)
    (root / "JPEGImages").mkdir(parents=True)
    for image_id in masks:
        pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "JPEGImages" / f"{image_id}.jpg", quality=90)
    for image_id, mask in masks.items():
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("a\nb\n  c  \n\nd\n")
    (sets / "val.txt").write_text("e\n\n")
    rows = "".join(f"{k},{v}\n" for k, v in labels.items())
    (root / "image_labels.csv").write_text("image_id,labels\n" + rows)
    meta = {"classes": names, "background": background, "void": 255}
    (root / "classes.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "bg", ["background", "cat", "dog", "car"], 0)


@pytest.fixture
def ds(tree):
    return VocDataset(tree)


@pytest.fixture
def nobg(tmp_path):
    return VocDataset(make_tree(tmp_path / "nobg", ["grass", "sky", "cow", "road"], None))


def test_class_info():
    info = ClassInfo(("background", "cat", "dog"), background=0)
    assert info.num_classes == 3 and info.object_classes == (1, 2) and info.void == 255
    assert ClassInfo(("a", "b"), None).object_classes == (0, 1)
    with pytest.raises(ValueError):
        ClassInfo(("a", "a"), None)


def test_classes_from_json(ds, nobg):
    assert ds.classes == ClassInfo(("background", "cat", "dog", "car"), 0, 255)
    assert nobg.classes.background is None and nobg.classes.object_classes == (0, 1, 2, 3)


def test_classes_from_arguments(tree):
    assert VocDataset(tree, class_names=["background", "x", "y", "z"]).classes.background == 0
    assert VocDataset(tree, class_names=["w", "x", "y", "z"]).classes.background is None
    explicit = VocDataset(tree, class_names=["background", "x", "y", "z"], background=None)
    assert explicit.classes.background is None
    with pytest.raises(ConfigError):
        VocDataset(tree, class_names=["x", "y"], background=5)


@pytest.mark.parametrize("content", [None, "{not json", '{"classes": "cat"}', '{"names": []}'])
def test_bad_classes_json(tree, content):
    path = tree / "classes.json"
    path.unlink() if content is None else path.write_text(content)
    with pytest.raises(DatasetError, match="classes.json"):
        VocDataset(tree)


def test_split_ids(ds):
    assert ds.split_ids("train") == ["a", "b", "c", "d"]
    assert ds.split_ids("val") == ["e"]
    with pytest.raises(DatasetError, match="nosuch.txt"):
        ds.split_ids("nosuch")


def test_duplicate_split_id(ds, tree):
    (tree / "ImageSets/Segmentation/train.txt").write_text("a\nb\na\n")
    with pytest.raises(DatasetError, match="train.txt"):
        ds.split_ids("train")


def test_paths_image_and_mask(ds, tree):
    assert ds.image_path("a") == tree / "JPEGImages/a.jpg"
    assert ds.mask_path("a") == tree / "SegmentationClass/a.png"
    assert ds.has_mask("a") and not ds.has_mask("zz")
    image = ds.read_image("b")
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert ds.image_size("b") == (H, W)
    for image_id, mask in MASKS.items():
        np.testing.assert_array_equal(ds.read_mask(image_id), mask)
    assert set(np.unique(ds.read_mask("d"))) == {0, 2, 3, 255}


def test_labels_csv(ds, nobg):
    assert [ds.labels(i) for i in "abcde"] == [(1,), (2, 3), (1,), (2, 3), (2,)]
    assert nobg.labels("a") == (0, 1)  # no background: class 0 is an object class


def test_labels_xml(tree):
    ann = tree / "Annotations"
    ann.mkdir()
    objects = {"a": ["dog", "cat", "dog"], "b": ["car"], "c": ["horse"], "d": []}
    for image_id, names in objects.items():
        body = "".join(f"<object><name>{n}</name><difficult>0</difficult></object>" for n in names)
        (ann / f"{image_id}.xml").write_text(f"<annotation><size/>{body}</annotation>")
    (ann / "e.xml").write_text("<annotation><object>")
    ds = VocDataset(tree, labels_source="xml")
    assert ds.labels("a") == (1, 2) and ds.labels("b") == (3,)
    with pytest.raises(DatasetError, match=r"c\.xml.*horse"):
        ds.labels("c")
    with pytest.raises(DatasetError, match=r"image d has no image-level labels in .*d\.xml"):
        ds.labels("d")
    with pytest.raises(DatasetError, match=r"e\.xml"):
        ds.labels("e")


def test_missing_image(ds, tree):
    (tree / "JPEGImages/c.jpg").unlink()
    with pytest.raises(DatasetError, match=r"image not found: .*c\.jpg"):
        ds.read_image("c")
    with pytest.raises(DatasetError, match=r"c\.jpg"):
        ds.image_size("c")


@pytest.mark.parametrize("keep", [100, -40, -2])
def test_truncated_jpeg(ds, tree, keep):
    path = tree / "JPEGImages/b.jpg"
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(DatasetError, match=r"b\.jpg"):
        ds.read_image("b")


def test_not_an_image(ds, tree):
    (tree / "JPEGImages/b.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(DatasetError, match=r"b\.jpg"):
        ds.read_image("b")


def test_mask_missing_and_size_mismatch(ds, tree):
    (tree / "SegmentationClass/a.png").unlink()
    with pytest.raises(DatasetError, match=r"a\.png"):
        ds.read_mask("a")
    save_label_png(tree / "SegmentationClass/b.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(DatasetError, match=r"b\.png is 9x10.*b\.jpg is 8x10"):
        ds.read_mask("b")


def test_mask_value_out_of_range(ds, tree):
    bad = _mask(1, 4, 7)  # 4 classes: 4 and 7 are neither classes nor void
    save_label_png(tree / "SegmentationClass/c.png", bad)
    with pytest.raises(DatasetError, match=r"c\.png has values \[4, 7\]"):
        ds.read_mask("c")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c,1 4", r"image_labels\.csv: image c has label 4 outside 0\.\.3"),
        ("c,", r"image c has no image-level labels in .*image_labels\.csv"),
        ("c,0", r"image c has no image-level labels in .*image_labels\.csv"),
        ("c,1 x", r"image_labels\.csv: image c has a non-integer label"),
    ],
)
def test_bad_csv_labels(tree, row, message):
    text = (tree / "image_labels.csv").read_text().replace("c,1\n", row + "\n")
    (tree / "image_labels.csv").write_text(text)
    with pytest.raises(DatasetError, match=message):
        VocDataset(tree).labels("c")


def test_image_missing_from_csv(ds):
    with pytest.raises(DatasetError, match=r"image zz has no image-level labels in .*labels\.csv"):
        ds.labels("zz")


def test_labels_file_missing_or_malformed(tree):
    (tree / "image_labels.csv").write_text("id,classes\na,1\n")
    with pytest.raises(DatasetError, match=r"image_labels\.csv"):
        VocDataset(tree).labels("a")
    (tree / "image_labels.csv").unlink()
    with pytest.raises(DatasetError, match=r"image_labels\.csv"):
        VocDataset(tree).labels("a")


def test_labels_and_images_never_open_masks(ds, monkeypatch):
    def forbidden(path):
        raise AssertionError(f"mask read: {path}")

    monkeypatch.setattr(voc, "load_label_png", forbidden)
    for image_id in "abcde":
        ds.labels(image_id), ds.read_image(image_id), ds.image_size(image_id)
    with pytest.raises(AssertionError):
        ds.read_mask("a")


def test_from_config(tree):
    ds = VocDataset.from_config({"root": str(tree), "classes": None, "background": "auto"})
    assert ds.classes.num_classes == 4 and ds.labels("b") == (2, 3)
    ds = VocDataset.from_config({"root": str(tree), "classes": ["p", "q", "r", "s"]})
    assert ds.classes.background is None
    with pytest.raises(ConfigError, match="dataset.root"):
        VocDataset.from_config({})
    with pytest.raises(ConfigError, match="labels_source"):
        VocDataset.from_config({"root": str(tree), "labels_source": "json"})
    with pytest.raises(DatasetError, match="nowhere"):
        VocDataset.from_config({"root": str(tree / "nowhere")})


def test_msrc21():
    if not MSRC.is_dir():
        pytest.skip(f"{MSRC} not present")
    ds = VocDataset(MSRC)
    assert len(ds.split_ids("train")) == 335 and len(ds.split_ids("val")) == 79
    assert ds.classes.num_classes == 21 and ds.classes.background is None
    assert ds.classes.names[:3] == ("building", "grass", "tree")
    assert ds.labels("1_10_s") == (1, 3, 5)  # grass, cow, sky
    mask = ds.read_mask("1_10_s")
    assert mask.shape == ds.image_size("1_10_s") == ds.read_image("1_10_s").shape[:2]
    assert set(np.unique(mask)) - {255} == {1, 3, 5}
