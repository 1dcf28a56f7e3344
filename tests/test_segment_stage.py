"""The final segmentation stage: its training set, the evaluate CLI, the segmentation table."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pixelnoise.__main__ import main
from pixelnoise.config import schema_defaults
from pixelnoise.data.manifest import build_manifest, write_manifest
from pixelnoise.data.palette import load_label_png, save_label_png
from pixelnoise.data.synthetic import generate_dataset
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import DatasetError
from pixelnoise.models.checkpoints import save_checkpoint, segmentation_meta
from pixelnoise.models.deeplab import SegmentationNet
from pixelnoise.run_data import RunData
from pixelnoise.stages.gather_segmentation_metrics import gather_segmentation_rows
from pixelnoise.stages.train_segmentation import training_set

NET = {"backbone": "resnet_tiny", "output_stride": 8, "head": "aspp"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate_dataset(root, seed=1, n_train=8, n_val=2, size_range=(48, 56))
    manifest = build_manifest(VocDataset(root), strong={"count": 3}, progress=False)
    write_manifest(manifest, root / "manifest.csv")
    return RunData.load({"root": str(root)}, str(root / "manifest.csv"))


def test_training_set_reads_weak_images_only_through_pseudo_labels(small_run, tmp_path):
    strong, weak = small_run.ids("strong"), small_run.ids("weak")
    labels_dir = tmp_path / "labels"
    for k, image_id in enumerate(weak):  # pseudo labels that differ from every mask
        height, width = small_run.dataset.image_size(image_id)
        save_label_png(labels_dir / f"{image_id}.png", np.full((height, width), k % 2, np.uint8))
    for image_id in weak:  # a weak mask must never be opened
        small_run.dataset.mask_path(image_id).unlink()
    ids, read_labels = training_set(small_run, "detect_gat_crf", [str(labels_dir)])
    assert ids == strong + weak
    assert np.array_equal(read_labels(strong[0]), small_run.dataset.read_mask(strong[0]))
    assert np.array_equal(read_labels(weak[1]), load_label_png(labels_dir / f"{weak[1]}.png"))
    (labels_dir / f"{weak[0]}.png").unlink()
    with pytest.raises(DatasetError, match=weak[0]):
        training_set(small_run, "detect_gat_crf", [str(labels_dir)])


def _constant_checkpoint(path, class_names, predicted: int):
    """A network whose every pixel goes to class ``predicted``: known predictions."""
    model = SegmentationNet(NET["backbone"], len(class_names), NET["output_stride"], NET["head"])
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.eye(len(class_names))[predicted] * 5)
    save_checkpoint(path, model, segmentation_meta(NET, class_names, background=0))


def _voc_folder(root, masks: dict[str, np.ndarray]):
    """A VOC-style folder without classes.json: the CLI must take classes from the checkpoint."""
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    for image_id, mask in masks.items():
        Image.fromarray(np.full((*mask.shape, 3), 90, np.uint8)).save(
            root / "JPEGImages" / f"{image_id}.jpg"
        )
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
    (root / "ImageSets/Segmentation/test.txt").write_text("\n".join(masks) + "\n")


def test_evaluate_cli_scores_known_predictions(tmp_path, capsys):
    half = np.zeros((16, 16), np.uint8)
    half[:, 8:] = 1  # 128 px of class 0, 128 of class 1
    other = np.full((16, 16), 2, np.uint8)
    other[0] = 255  # 240 px of class 2, one void row
    _voc_folder(tmp_path / "data", {"a": half, "b": other})
    _constant_checkpoint(tmp_path / "model.pt", ["background", "cat", "dog"], predicted=1)
    out = tmp_path / "eval"
    code = main(
        ["evaluate", "--checkpoint", str(tmp_path / "model.pt"), "--data-root",
         str(tmp_path / "data"), "--split", "test", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    # Everything predicted "cat": IoU(cat) = 128 / 496, the other two classes 0.
    expected = 100 * (128 / 496) / 3
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"mIoU={expected:.2f}"
    row = pd.read_csv(out / "metrics.csv").iloc[0]
    assert row["split"] == "test" and row["images"] == 2
    assert row["miou"] == pytest.approx(expected, abs=1e-3)
    assert row["pixel_acc"] == pytest.approx(128 / 496, abs=1e-4)
    assert row["iou_cat"] == pytest.approx(100 * 128 / 496, abs=1e-3) and row["iou_dog"] == 0
    prediction = load_label_png(out / "predictions" / "b.png")
    assert prediction.shape == (16, 16) and (prediction == 1).all()


def test_evaluate_cli_names_missing_inputs(tmp_path, capsys):
    _voc_folder(tmp_path / "data", {"a": np.zeros((8, 8), np.uint8)})
    code = main(
        ["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--data-root",
         str(tmp_path / "data"), "--out", str(tmp_path / "eval")]
    )  # fmt: skip
    assert code == 2 and "none.pt" in capsys.readouterr().err
    _constant_checkpoint(tmp_path / "model.pt", ["background", "cat"], predicted=0)
    code = main(
        ["evaluate", "--checkpoint", str(tmp_path / "model.pt"), "--data-root",
         str(tmp_path / "data"), "--split", "missing", "--out", str(tmp_path / "eval")]
    )  # fmt: skip
    assert code == 2 and "missing" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()


def test_segmentation_table_flags_baselines(tmp_path):
    dirs = []
    for method, miou in (("dc_only", 40.0), ("detect_gat_crf", 48.0), ("full_gt", 70.0)):
        directory = tmp_path / method
        directory.mkdir()
        row = {"method": method, "split": "val", "images": 5, "miou": miou, "pixel_acc": 0.8}
        pd.DataFrame([row]).to_csv(directory / "metrics.csv", index=False)
        dirs.append(str(directory))
    table = gather_segmentation_rows(dirs, str(tmp_path / "segmentation.csv"))
    assert table["reads_weak_masks"].tolist() == [False, False, True]
    assert "clean model" in table.loc[0, "trained_on"]
    assert pd.read_csv(tmp_path / "segmentation.csv")["miou"].tolist() == [40.0, 48.0, 70.0]


def test_full_gt_trains_on_every_train_mask(tmp_path):
    root = tmp_path / "data"
    generate_dataset(root, seed=2, n_train=5, n_val=1, size_range=(40, 48))
    write_manifest(build_manifest(VocDataset(root), strong={"count": 2}, progress=False),
                   root / "manifest.csv")  # fmt: skip
    run = RunData.load({"root": str(root)}, str(root / "manifest.csv"))
    ids, read_labels = training_set(run, "full_gt", [])
    assert ids == run.ids("strong") + run.ids("weak") and len(ids) == 5
    weak = run.ids("weak")[0]
    assert np.array_equal(read_labels(weak), run.dataset.read_mask(weak))


def test_crf_option_refines_predictions():
    from pixelnoise.prediction import predict_labels

    model = SegmentationNet(NET["backbone"], 2, NET["output_stride"], NET["head"]).eval()
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 16:] = 255
    meta = segmentation_meta(NET, ["a", "b"], None)
    plain = predict_labels(model, image, meta, scales=(1.0, 0.5), flip=True)
    refined = predict_labels(model, image, meta, crf={**schema_defaults()["crf"], "iterations": 5})
    assert plain.shape == refined.shape == (32, 32) and refined.dtype == np.uint8
    assert set(np.unique(refined)) <= {0, 1}


def test_repeats_are_averaged_with_their_spread(tmp_path):
    dirs = []
    scores = {"dc_only": [40.0], "cam": [44.0, 46.0, 45.0], "detect_gat_crf": [50.0, 52.0, 51.0]}
    for method, values in scores.items():
        for repeat, miou in enumerate(values):
            directory = tmp_path / method / f"repeat{repeat}"
            directory.mkdir(parents=True)
            row = {"method": method, "repeat": repeat, "seed": repeat, "split": "val",
                   "images": 5, "miou": miou, "pixel_acc": 0.8, "iou_cat": miou}  # fmt: skip
            pd.DataFrame([row]).to_csv(directory / "metrics.csv", index=False)
            dirs.append(str(directory))
    table = gather_segmentation_rows(
        dirs, str(tmp_path / "segmentation.csv"), str(tmp_path / "repeats.csv")
    )
    assert table["method"].tolist() == ["dc_only", "cam", "detect_gat_crf"]
    assert table["repeats"].tolist() == [1, 3, 3]
    assert table["miou"].tolist() == [40.0, 45.0, 51.0]
    assert np.isnan(table.loc[0, "miou_std"]) and table.loc[1, "miou_std"] == pytest.approx(1.0)
    assert len(pd.read_csv(tmp_path / "repeats.csv")) == 7
    from pixelnoise.comparison import headline, side_by_side, versus

    gain = versus(table, "detect_gat_crf", "cam")
    assert gain.delta == pytest.approx(6.0) and gain.exceeds  # noise 2*sqrt(2/3) = 1.63
    assert versus(table, "detect_gat_crf", "dc_only").exceeds is None  # dc_only: one run
    pseudo = pd.DataFrame({"method": ["cam", "detect_gat_crf"], "miou": [30.0, 41.0]})
    rows = side_by_side(table, pseudo).set_index("method")
    assert rows.loc["detect_gat_crf", "segmentation mIoU (val)"] == "51.00 ± 1.00 (n=3)"
    assert rows.loc["detect_gat_crf", "vs cam"] == "+6.00 (> noise 1.63)"
    assert rows.loc["dc_only", "pseudo-label mIoU (D_n)"] == "—"
    text = " ".join(headline(table))
    assert "**detect_gat_crf**" in text and "larger than the noise" in text
    close = table.assign(miou=[40.0, 50.5, 51.0])
    assert "does not exceed the noise" in " ".join(headline(close))
