"""Faults a new user runs into, each with a message that names the file or config key and
leaves what was already written intact. (More faults are covered where their code lives:
tests/test_atomic.py for output folders and full disks, tests/test_manifest.py and
tests/test_voc.py for dataset files, tests/test_config.py for config values,
tests/test_shards_and_resume.py for SIGKILL and resume; docs/faults.md lists them all.)"""

import hashlib
import io
import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps
from voc_trees import write_voc_tree
from workflow_runner import snakemake

from pixelnoise.__main__ import main
from pixelnoise.atomic import MARKER, OutsideOutputError
from pixelnoise.data.manifest import build_manifest, choose_strong, ids_with_role
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.errors import ConfigError, DatasetError, PixelnoiseError
from pixelnoise.metrics import score_label_maps
from pixelnoise.models.checkpoints import load_segmentation, save_checkpoint
from pixelnoise.models.classifier import CamClassifier

H, W = 24, 32
TRAIN = [f"t{k}" for k in range(6)]
VAL = ["v0", "v1"]


def object_mask(k: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[4:12, 5:15] = 1 + k % 2
    return mask


@pytest.fixture
def tree(tmp_path):
    return write_voc_tree(
        tmp_path / "voc", TRAIN, VAL, object_mask, lambda k: f"0 {1 + k % 2}",
        {"classes": ["background", "cat", "dog"], "background": 0},
    )  # fmt: skip


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


def snapshot(root, *skip) -> dict[str, str]:
    """Every file under ``root`` (outside the folders ``skip``) with a hash of its bytes."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(p.is_relative_to(s) for s in skip)
    }


@pytest.fixture
def checkpoint(tmp_path):
    from pixelnoise.models.checkpoints import segmentation_meta
    from pixelnoise.models.deeplab import SegmentationNet

    path = tmp_path / "seg.pt"
    net = {"backbone": "resnet_tiny", "output_stride": 8, "head": "aspp"}
    save_checkpoint(path, SegmentationNet("resnet_tiny", 3),
                    segmentation_meta(net, ["background", "cat", "dog"], 0))  # fmt: skip
    return path


@pytest.mark.parametrize("bad", ["../../escape_eval", "sub/t0", "..\\t0", "t0\x1b[2J"])
def test_an_id_that_is_a_path_is_refused_naming_the_file_and_line(tree, bad):
    (tree / "ImageSets/Segmentation/val.txt").write_text(f"v0\nv1\n\n{bad}\n")
    message = rf"val\.txt, line 4: image id {re.escape(repr(bad))} is a path"
    with pytest.raises(DatasetError, match=message):
        build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)


def test_evaluate_never_writes_outside_out_for_a_hostile_id(tmp_path, tree, checkpoint, capsys):
    """The id ../../escape_eval once wrote a prediction over a mask outside the dataset."""
    outside = tmp_path / "SegmentationClass"
    save_label_png(outside / "escape_eval.png", np.ones((H, W), np.uint8))
    (tree / "ImageSets/Segmentation/val.txt").write_text("v0\n../../escape_eval\n")
    before = snapshot(tmp_path)
    code = main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tree),
                 "--out", str(tmp_path / "eval" / "run")])  # fmt: skip
    assert code == 2 and "val.txt, line 2: image id '../../escape_eval'" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_every_writer_refuses_a_name_that_leads_outside_its_folder(tmp_path, tree, checkpoint):
    """Defence in depth: an id that got past the readers still cannot write elsewhere."""
    from pixelnoise.arraystore import ArrayWriter
    from pixelnoise.evaluation import evaluate_checkpoint

    (tree / "x.jpg").write_bytes((tree / "JPEGImages/t0.jpg").read_bytes())  # JPEGImages/../x
    before = snapshot(tmp_path)
    with pytest.raises(OutsideOutputError, match=r"the name '\.\./x\.png' leads outside"):
        evaluate_checkpoint(checkpoint=str(checkpoint), dataset=VocDataset(tree), ids=["../x"],
                            out_dir=str(tmp_path / "eval"), device="cpu")  # fmt: skip
    assert snapshot(tmp_path) == before and not (tmp_path / "eval").exists()
    writer = ArrayWriter(tmp_path / "store.zarr", {})
    with pytest.raises(OutsideOutputError, match="leads outside the output folder"):
        writer.write("../escape", np.zeros((2, 4, 4)))
    assert not (tmp_path / "escape").exists()


def test_evaluate_out_inside_a_run_is_refused(tmp_path, tree, checkpoint, capsys, monkeypatch):
    """A pipeline output carries the marker, so it looked replaceable: 20 pseudo labels went."""
    workdir = tmp_path / "work"
    (workdir / ".snakemake").mkdir(parents=True)
    shard = workdir / "results/pseudo_labels/cam/shard0"
    shard.mkdir(parents=True)
    (shard / MARKER).write_text("written by pixelnoise")
    for image_id in TRAIN:
        save_label_png(shard / f"{image_id}.png", np.zeros((H, W), np.uint8))
    before = snapshot(tmp_path)
    monkeypatch.chdir(workdir)
    for out in (str(shard), "results/new_folder"):
        code = main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tree),
                     "--out", out])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and "inside the run folder" in err and "choose an output folder" in err
    assert snapshot(tmp_path) == before


def test_a_damaged_pipeline_folder_says_how_to_recover(tmp_path):
    from pixelnoise.run_data import label_files

    shard = tmp_path / "results/pseudo_labels/cam/shard0"
    (shard / "predictions").mkdir(parents=True)  # what `evaluate --out` left there
    with pytest.raises(PixelnoiseError, match=rf"delete {re.escape(str(shard))} and run snakemake"):
        label_files("cam", TRAIN, [str(shard)])


def exif_jpeg(path, pixels, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif)


def test_an_exif_rotated_square_image_is_read_as_displayed(tree):
    """Stored with orientation 6 (turn 90° clockwise to display), as phones store portraits;
    its mask is drawn over the displayed image. Read as stored, the clean model trained on a
    mask 90° off."""
    stored = np.zeros((W, W, 3), np.uint8)
    stored[: W // 2] = 255  # stored: top half white; displayed: right half white
    exif_jpeg(tree / "JPEGImages/t0.jpg", stored, 6)
    shown = VocDataset(tree).read_image("t0")
    assert shown[:, W // 2 :].mean() > 200 and shown[:, : W // 2].mean() < 50
    with Image.open(tree / "JPEGImages/t0.jpg") as img:  # what a viewer shows
        viewer = np.asarray(ImageOps.exif_transpose(img).convert("RGB"), dtype=int)
    assert np.abs(viewer - shown).max() <= 2


def test_an_exif_rotated_image_and_its_displayed_mask_line_up(tree):
    """Non-square: stored W x H with orientation 8; mask H x W as displayed (was: a size
    mismatch error that never mentioned EXIF)."""
    stored = np.random.default_rng(0).integers(0, 255, (W, H, 3), dtype=np.uint8)
    exif_jpeg(tree / "JPEGImages/t0.jpg", stored, 8)
    dataset = VocDataset(tree)
    assert dataset.image_size("t0") == (H, W) == dataset.read_image("t0").shape[:2]
    manifest = build_manifest(dataset, strong={"list": None, "count": 2}, progress=False)
    assert manifest.set_index("image_id").loc["t0", ["height", "width"]].tolist() == [H, W]


def test_an_exif_rotated_mask_is_read_as_displayed(tree):
    mask = np.zeros((W, H), np.uint8)  # stored turned: orientation 6 displays it as H x W
    mask[:4] = 1
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tree / "SegmentationClass/t0.png"
    image = Image.fromarray(mask, mode="P")
    image.save(path, exif=exif)
    shown = VocDataset(tree).read_mask("t0")
    assert shown.shape == (H, W) and (shown[:, -4:] == 1).all() and (shown[:, :-4] == 0).all()


def test_a_negative_seed_is_a_schema_error_naming_the_key(tmp_path):
    seeds = tmp_path / "seeds.yaml"
    for key, text in (("['seed']", "seed: -1\n"), ("['split']['seed']", "split: {seed: -3}\n")):
        seeds.write_text(text)
        result = snakemake(tmp_path, "--dry-run", configfiles=("tests/configs/tiny.yaml", seeds),
                           check=False)  # fmt: skip
        out = result.stdout + result.stderr
        assert result.returncode != 0 and "is less than the minimum of 0" in out
        assert f"On instance{key}" in out


def test_a_strong_list_over_the_default_count_is_one_line(tmp_path):
    result = snakemake(tmp_path, "--dry-run", "--config", "split={strong: {list: d_c.txt}}",
                       check=False)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "split.strong sets both count and list: set exactly one" in out
    assert len(out.splitlines()) < 20  # was a 30-line oneOf dump


def test_a_failing_rule_shows_one_clear_line_and_its_traceback_once(tmp_path, tree):
    """Was: the traceback three times, the useful line ~25 lines below the first error line.
    (An empty val split passes planning and fails in the manifest job.)"""
    (tree / "ImageSets/Segmentation/val.txt").write_text("")
    config = tmp_path / "voc.yaml"
    config.write_text(f"dataset:\n  kind: voc\n  root: {tree}\nsplit:\n  strong:\n    count: 2\n")
    before = snapshot(tmp_path, tmp_path / "work")
    result = snakemake(tmp_path / "work", "results/data/manifest.csv", "--show-failed-logs",
                       configfiles=(str(config),), check=False)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode != 0
    first_error = next(i for i, text in enumerate(out.splitlines()) if "Error" in text)
    line = out.splitlines()[first_error]
    assert line.startswith("rule build_manifest: DatasetError: ") and "val.txt" in line, line
    assert out.count("Traceback (most recent call last)") == 1  # Snakemake's copy of the log
    log = (tmp_path / "work/logs/build_manifest.log").read_text()
    assert log.count("Traceback (most recent call last)") == 1 and line in log
    assert snapshot(tmp_path, tmp_path / "work") == before


def plan(tmp_path, root, *args):
    """The jobs of a dry run of the default config (tiny sizes) on the VOC-style tree ``root``."""
    config = tmp_path / "voc.yaml"
    config.write_text(f"dataset:\n  kind: voc\n  root: {root}\nsplit:\n  strong:\n    count: 2\n")
    result = snakemake(tmp_path / "work", "--dry-run", *args,
                       configfiles=("tests/configs/tiny.yaml", str(config)))  # fmt: skip
    return result.stdout + result.stderr


def test_weak_mask_readers_are_left_out_when_weak_images_have_no_masks(tmp_path, tree):
    """The default config lists oracle_gat_crf (methods and segment.methods): on real weak
    data it was planned, and correct_labels died after 78 s with `mask not found`."""
    assert "oracle_gat_crf" in plan(tmp_path, tree)
    strong = choose_strong(TRAIN, count=2, seed=0)
    for image_id in set(TRAIN) - set(strong):
        (tree / "SegmentationClass" / f"{image_id}.png").unlink()
    before = snapshot(tree)
    out = plan(tmp_path, tree)
    assert "oracle_gat_crf" not in out and "oracle_gat" not in out
    assert "pseudo_labels/detect_gat_crf" in out and "segmentation/detect_gat_crf" in out
    assert snapshot(tree) == before


def test_the_report_says_which_upper_bounds_were_left_out():
    from pixelnoise.methods.upper_bounds import left_out_note

    skipped = {"reason": "30 of the 36 train images have no mask in data/SegmentationClass",
               "methods": ["oracle_gat_crf"], "segment.methods": ["oracle_gat_crf"]}  # fmt: skip
    note = " ".join(left_out_note(skipped))
    assert "`oracle_gat_crf` (methods), `oracle_gat_crf` (segment.methods)" in note
    assert "30 of the 36 train images have no mask" in note
    assert left_out_note({"reason": None, "methods": [], "segment.methods": []}) == []


@pytest.mark.parametrize("fault", ["value 200", "wrong size", "not a PNG"])
def test_a_bad_weak_mask_is_left_out_of_scoring_with_a_warning(tree, caplog, fault):
    """Was: the run stopped at cam_threshold_sweep after 70-180 s."""
    path = tree / "SegmentationClass/t5.png"
    if fault == "value 200":
        save_label_png(path, np.full((H, W), 200, np.uint8))
    elif fault == "wrong size":
        save_label_png(path, np.zeros((H + 1, W), np.uint8))
    else:
        path.write_bytes(b"not a PNG")
    manifest = build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)
    assert "t5" in ids_with_role(manifest, "weak")  # weak masks are not the manifest's business
    predict = {"zeros": lambda image_id: np.zeros((H, W), np.uint8)}
    before = snapshot(tree)
    with caplog.at_level(logging.WARNING):
        matrices, scored = score_label_maps(VocDataset(tree), ["t4", "t5"], predict)
    assert scored == ["t4"] and matrices["zeros"].valid == H * W
    assert "left out of scoring" in caplog.text and "t5.png" in caplog.text
    assert snapshot(tree) == before


def test_full_gt_leaves_out_a_weak_image_whose_mask_is_unusable(tree, tmp_path, caplog):
    from pixelnoise.run_data import RunData
    from pixelnoise.stages.train_segmentation import training_set

    save_label_png(tree / "SegmentationClass/t5.png", np.full((H, W), 200, np.uint8))
    dataset = VocDataset(tree)
    manifest = build_manifest(dataset, strong={"count": 2}, progress=False)
    with caplog.at_level(logging.WARNING):
        ids, read = training_set(RunData(dataset, manifest), "full_gt", [])
    assert "t5" not in ids and len(ids) == len(TRAIN) - 1 and "t5.png" in caplog.text
    assert read(ids[-1]).shape == (H, W)


def test_all_void_strong_masks_stop_at_the_manifest(tree):
    """Was: the clean model trained on nothing (loss nan at INFO), select_theta misadvised."""
    for image_id in TRAIN:
        save_label_png(
            tree / "SegmentationClass" / f"{image_id}.png", np.full((H, W), 255, np.uint8)
        )
    with pytest.raises(DatasetError, match=r"every mask of the strong set D_c is void"):
        build_manifest(VocDataset(tree), strong={"count": 2}, progress=False)


def test_a_void_or_contradicting_strong_mask_is_a_warning_naming_it(tree, caplog):
    strong = choose_strong(TRAIN, count=3, seed=0)
    save_label_png(tree / "SegmentationClass" / f"{strong[0]}.png", np.full((H, W), 255, np.uint8))
    other = 1 + (TRAIN.index(strong[1]) + 1) % 2  # the class its labels do not list
    save_label_png(
        tree / "SegmentationClass" / f"{strong[1]}.png", np.full((H, W), other, np.uint8)
    )
    with caplog.at_level(logging.WARNING):
        build_manifest(VocDataset(tree), strong={"count": 3}, progress=False)
    assert f"{strong[0]}.png of strong image {strong[0]} is all void" in caplog.text
    name = ["background", "cat", "dog"][other]
    assert f"{strong[1]}.png of strong image {strong[1]} shows classes ['{name}']" in caplog.text


@pytest.mark.slow
def test_the_default_config_runs_to_the_report_without_weak_masks(tmp_path):
    """Real weak data (masks for D_c and val only) with the default config, which lists the
    oracle: the run reaches its report, and the report says what was left out and why."""
    from pixelnoise.data.synthetic import generate_dataset

    root = tmp_path / "data"
    generate_dataset(root, seed=0, n_train=36, n_val=8, size_range=(64, 80))
    train = VocDataset(root).split_ids("train")
    strong = choose_strong(train, count=6, seed=0)
    for image_id in set(train) - set(strong):
        (root / "SegmentationClass" / f"{image_id}.png").unlink()
    config = tmp_path / "voc.yaml"
    config.write_text(f"dataset:\n  kind: voc\n  root: {root}\n")
    before = snapshot(root)
    workdir = tmp_path / "run"
    snakemake(workdir, configfiles=("tests/configs/tiny.yaml", str(config)))
    report = (workdir / "results/report.md").read_text()
    assert "**Left out:** `oracle_gat_crf` (methods), `oracle_gat_crf` (segment.methods)" in report
    assert "30 of the 36 train images have no mask" in report
    assert (
        "oracle_gat_crf"
        not in pd.read_csv(workdir / "results/metrics/pseudo_labels.csv")["method"].tolist()
    )
    assert snapshot(root) == before
