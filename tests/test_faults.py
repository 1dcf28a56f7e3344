"""Faults a new user runs into, each with a message that names the file or config key and
leaves what was already written intact. (More faults are covered where their code lives:
tests/test_atomic.py for output folders and full disks, tests/test_manifest.py and
tests/test_voc.py for dataset files, tests/test_config.py for config values,
tests/test_shards_and_resume.py for SIGKILL and resume; docs/faults.md lists them all.)"""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from workflow_runner import snakemake

from pixelnoise.__main__ import main
from pixelnoise.data.manifest import build_manifest
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import ConfigError, DatasetError, PixelnoiseError
from pixelnoise.models.checkpoints import load_segmentation, save_checkpoint
from pixelnoise.models.classifier import CamClassifier

H, W = 24, 32
TRAIN = [f"t{k}" for k in range(6)]
VAL = ["v0", "v1"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "ImageSets/Segmentation").mkdir(parents=True)
    rows = ["image_id,labels"]
    for k, image_id in enumerate(TRAIN + VAL):
        pixels = np.random.default_rng(k).integers(0, 255, (H, W, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "JPEGImages" / f"{image_id}.jpg", quality=90)
        mask = np.zeros((H, W), np.uint8)
        mask[4:12, 5:15] = 1 + k % 2
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
        rows.append(f"{image_id},0 {1 + k % 2}")
    (root / "ImageSets/Segmentation/train.txt").write_text("\n".join(TRAIN) + "\n")
    (root / "ImageSets/Segmentation/val.txt").write_text("\n".join(VAL) + "\n")
    (root / "image_labels.csv").write_text("\n".join(rows) + "\n")
    meta = {"classes": ["background", "cat", "dog"], "background": 0}
    (root / "classes.json").write_text(json.dumps(meta))
    return root


def test_comma_separated_labels_keep_every_class(tree):
    (tree / "image_labels.csv").write_text(
        "image_id,labels\n" + "\n".join(f"{i},1,2" for i in TRAIN + VAL) + "\n"
    )
    assert VocDataset(tree).labels("t0") == (1, 2)


def test_a_byte_order_mark_is_accepted(tree):
    text = (tree / "image_labels.csv").read_text()
    (tree / "image_labels.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert VocDataset(tree).labels("t1") == (2,)


def test_a_labels_file_without_its_columns_names_them(tree):
    (tree / "image_labels.csv").write_text("id,classes\nt0,1\n")
    with pytest.raises(DatasetError, match=r"image_labels\.csv must have columns image_id,labels"):
        VocDataset(tree).labels("t0")


def test_a_16_bit_png_saved_as_jpg_is_rejected(tree):
    path = tree / "JPEGImages/t2.jpg"
    Image.fromarray(np.full((H, W), 40000, np.uint16)).save(path, format="PNG")
    with pytest.raises(DatasetError, match=r"t2\.jpg has pixel mode 'I;16'"):
        VocDataset(tree).read_image("t2")


def test_garbage_inside_a_jpeg_is_rejected(tree):
    path = tree / "JPEGImages/t3.jpg"
    data = path.read_bytes()
    garbage = b"garbage " * 256  # 2 kB of text: no marker byte, so no decoder error
    middle = data.index(b"\xff\xda") + 40  # inside the compressed image data
    path.write_bytes(data[:middle] + garbage + data[middle:])
    with Image.open(io.BytesIO(path.read_bytes())) as img:
        img.load()  # Pillow alone decodes it without a word
    with pytest.raises(DatasetError, match=r"corrupt JPEG .*t3\.jpg: Corrupt JPEG data"):
        VocDataset(tree).read_image("t3")


def test_a_truncated_jpeg_is_rejected(tree):
    path = tree / "JPEGImages/t4.jpg"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"t4\.jpg"):
        VocDataset(tree).read_image("t4")


def test_an_empty_val_split_is_caught_when_the_manifest_is_built(tree):
    (tree / "ImageSets/Segmentation/val.txt").write_text("\n")
    with pytest.raises(
        DatasetError, match=r"val\.txt lists no images \(config key dataset.val_split"
    ):
        build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)


def test_no_weak_images_left_is_caught_naming_the_key(tree):
    with pytest.raises(ConfigError, match="split.strong takes all 6 train images"):
        build_manifest(VocDataset(tree), strong={"count": 6}, progress=False)


def test_a_corrupt_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(PixelnoiseError, match=r"model\.pt is not a readable checkpoint"):
        load_segmentation(str(path))


def test_the_classifier_given_to_evaluate_says_which_kind_was_expected(tmp_path, tree, capsys):
    path = tmp_path / "classifier.pt"
    save_checkpoint(path, CamClassifier("resnet_tiny", 2), {"kind": "classifier"})
    code = main(["evaluate", "--checkpoint", str(path), "--data-root", str(tree),
                 "--out", str(tmp_path / "eval")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "classifier.pt holds a classifier checkpoint" in err
    assert "expected a segmentation checkpoint" in err


@pytest.mark.parametrize("where", ["cwd", "dataset", "run"])
def test_evaluate_out_never_deletes_a_folder_it_did_not_write(
    tmp_path, tree, capsys, where, monkeypatch
):
    checkpoint = tmp_path / "seg.pt"
    from pixelnoise.models.checkpoints import segmentation_meta
    from pixelnoise.models.deeplab import SegmentationNet

    net = {"backbone": "resnet_tiny", "output_stride": 8, "head": "aspp"}
    save_checkpoint(checkpoint, SegmentationNet("resnet_tiny", 3),
                    segmentation_meta(net, ["background", "cat", "dog"], 0))  # fmt: skip
    run = tmp_path / "results"
    run.mkdir()
    (run / "report.md").write_text("a finished run")
    monkeypatch.chdir(run)
    out = {"cwd": ".", "dataset": str(tree), "run": str(run)}[where]
    before = sorted(p.name for p in (run if where != "dataset" else tree).iterdir())
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tree),
                 "--out", out])  # fmt: skip
    assert code == 2 and "refusing to replace" in capsys.readouterr().err
    assert sorted(p.name for p in (run if where != "dataset" else tree).iterdir()) == before
    assert (run / "report.md").read_text() == "a finished run"
    assert VocDataset(tree).read_image("t0").shape == (H, W, 3)


def test_a_config_typo_is_one_line_with_the_closest_key(tmp_path):
    result = snakemake(tmp_path, "--dry-run", "--config", "clasifier={epochs: 1}", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unknown config key `clasifier`: did you mean `classifier`?" in out
    assert len(out.splitlines()) < 20  # not the ~750 lines of the schema


def test_a_missing_dataset_root_names_the_key(tmp_path):
    config = tmp_path / "missing_root.yaml"
    config.write_text("dataset:\n  kind: voc\n  root: /nonexistent/msrc21\n")
    result = snakemake(tmp_path, "--dry-run", configfiles=(str(config),), check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "dataset.root: /nonexistent/msrc21 is not a folder" in out
    assert "MissingInputException" not in out


@pytest.mark.slow
def test_a_theta_that_keeps_almost_nothing_is_reported_honestly(finished_run, tmp_path):
    """A fixed θ far below the grid: the real (tiny) coverage, a warning, and the fallbacks."""
    from pixelnoise.stages.select_theta import select_theta

    results = finished_run / "results"
    choice = select_theta(
        manifest_path=str(results / "data/manifest.csv"),
        dataset_cfg={"root": str(results / "data/synthetic")},
        cam_paths=[str(results / "cams/shard0.zarr")],
        loss_paths=[str(results / "detect/losses/shard0.zarr")],
        tau_bg=0.3,
        cfg={"theta": 1e-9, "min_accuracy": 0.9, "theta_grid": {"low": 1e-3, "high": 10, "num": 5}},
        out_json=str(tmp_path / "theta.json"),
        out_csv=str(tmp_path / "curve.csv"),
        out_png=str(tmp_path / "curve.png"),
    )
    grid_low = pd.read_csv(tmp_path / "curve.csv")["coverage"].iloc[0]
    assert choice["theta"] == 1e-9 and choice["coverage"] <= grid_low  # measured at θ itself
    assert choice["coverage"] < 0.05
    assert "raise detect.theta" in json.loads((tmp_path / "theta.json").read_text())["warning"]


def test_val_images_without_masks_are_predicted_not_scored(tree, tmp_path):
    from pixelnoise.evaluation import evaluate_checkpoint
    from pixelnoise.models.checkpoints import segmentation_meta
    from pixelnoise.models.deeplab import SegmentationNet

    for image_id in VAL:
        (tree / "SegmentationClass" / f"{image_id}.png").unlink()
    manifest = build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)
    assert (manifest["role"] == "val").sum() == len(VAL)
    net = {"backbone": "resnet_tiny", "output_stride": 8, "head": "aspp"}
    checkpoint = tmp_path / "seg.pt"
    save_checkpoint(checkpoint, SegmentationNet("resnet_tiny", 3),
                    segmentation_meta(net, ["background", "cat", "dog"], 0))  # fmt: skip
    row = evaluate_checkpoint(checkpoint=str(checkpoint), dataset=VocDataset(tree), ids=VAL,
                              out_dir=str(tmp_path / "eval"), device="cpu")  # fmt: skip
    assert row["images"] == 0 and row["images_without_mask"] == 2 and np.isnan(row["miou"])
    assert len(list((tmp_path / "eval/predictions").glob("*.png"))) == 2


def test_weak_images_without_masks_are_not_scored(tree):
    from pixelnoise.metrics import score_label_maps

    dataset = VocDataset(tree)
    (tree / "SegmentationClass/t5.png").unlink()
    predict = {"zeros": lambda image_id: np.zeros((H, W), np.uint8)}
    matrices, scored = score_label_maps(dataset, ["t4", "t5"], predict)
    assert scored == ["t4"] and matrices["zeros"].valid == H * W
    matrices, scored = score_label_maps(dataset, ["t5"], predict)
    assert scored == [] and np.isnan(matrices["zeros"].miou())
