"""End-to-end runs of the workflow on the tiny generated dataset."""

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr
from workflow_runner import snakemake

from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.synthetic import CLASS_NAMES
from pixelnoise.data.voc import VocDataset
from pixelnoise.methods import CHECKPOINT, LABEL_MAPS, REGISTRY
from pixelnoise.methods.fan import MULTI
from pixelnoise.methods.mllc import VARIANTS

pytestmark = pytest.mark.slow


def test_run_writes_report_and_metrics(finished_run):
    results = finished_run / "results"
    table = pd.read_csv(results / "metrics/pseudo_labels.csv").set_index("method")
    methods = ["cam", "detect", "camseeds_gat", "detect_gat", "detect_gcn", "detect_gat_crf"]
    assert list(table.index) == [*methods, "oracle_gat_crf"]
    assert table["miou"].between(1, 100).all() and table["precision"].between(0, 1).all()
    # With a background class every method but `detect` labels every pixel.
    assert table.loc["cam", "coverage"] == pytest.approx(1.0)
    assert table.loc["detect_gat_crf", "coverage"] == pytest.approx(1.0)
    assert table.loc["detect", "coverage"] < 1.0
    assert table.loc["detect", "precision"] >= table.loc["cam", "precision"]
    # the wrong labels split by kind: missed objects, false objects, wrong classes
    errors = table[["missed_fg", "false_fg", "wrong_class"]]
    assert (errors >= 0).all().all()
    assert (errors.sum(axis=1) + table["precision"]).to_numpy() == pytest.approx(1.0, abs=2e-4)
    # detection removes CAM labels that spill over onto the background
    assert table.loc["detect", "false_fg"] < table.loc["cam", "false_fg"]
    assert table["reads_weak_masks"].tolist() == [False] * 6 + [True]
    sweep = pd.read_csv(results / "metrics/cam_tau_sweep.csv")
    assert sweep["tau_bg"].tolist() == [0.05, 0.2]
    # cam.tau_bg: auto chose among the same sweep on D_c, and the report states the choice
    choice = json.loads((results / "cams/tau_bg.json").read_text())
    curve = pd.read_csv(results / "cams/tau_bg_curve.csv")
    assert choice["tau_bg"] in (0.05, 0.2) and curve["tau_bg"].tolist() == [0.05, 0.2]
    assert choice["miou"] == pytest.approx(curve["miou"].max(), abs=1e-3)
    theta = json.loads((results / "detect/theta.json").read_text())
    assert theta["theta"] > 0 and 0 < theta["coverage"] <= 1
    assert (results / "detect/theta_curve.png").stat().st_size > 1000
    report = (results / "report.md").read_text()
    assert "| detect_gat_crf " in report and "Time and memory per rule" in report
    assert "theta =" in report
    assert f"auto chose **τ_bg = {choice['tau_bg']:g}**" in report
    assert "## Tuned settings and where they were chosen" in report
    for rule in ("train_classifier", "export_cams", "train_clean_model", "correct_labels"):
        assert rule in report
    assert (finished_run / "logs/train_classifier.log").stat().st_size > 0


def test_cams_in_zarr_match_images(finished_run):
    results = finished_run / "results"
    manifest = read_manifest(results / "data/manifest.csv")
    with warnings.catch_warnings():  # Snakemake's timestamp file inside the store
        warnings.simplefilter("ignore")
        group = zarr.open_group(str(results / "cams/shard0.zarr"), mode="r")
    train = manifest[manifest["role"] != "val"]
    assert sorted(group.array_keys()) == sorted(train["image_id"])
    peaks = []
    for _, item in train.iterrows():
        array = group[item["image_id"]]
        assert array.dtype == np.float16
        assert array.shape == (len(item["labels"]), item["height"], item["width"])
        assert array.attrs["classes"] == list(item["labels"])
        values = array[...].astype(np.float32)
        assert values.min() >= 0 and values.max() <= 1.001
        peaks.extend(values.reshape(len(values), -1).max(axis=1))
    # Each class map is normalised by its maximum (1), unless it never fired at all (0).
    peaks = np.array(peaks)
    assert np.all((np.abs(peaks - 1) < 1e-2) | (peaks == 0))
    assert peaks.max() == pytest.approx(1, abs=1e-2)


def test_classifier_history_and_checkpoint(finished_run):
    history = pd.read_csv(finished_run / "results/models/classifier_log.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert set(history.columns) >= {"loss", "accuracy", "lr", "seconds"}
    from pixelnoise.models.checkpoints import load_classifier

    model, meta = load_classifier(str(finished_run / "results/models/classifier.pt"))
    assert meta["background"] == 0 and meta["object_classes"] == list(range(1, len(CLASS_NAMES)))


def test_nothing_to_do_after_a_finished_run(finished_run):
    result = snakemake(finished_run, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_every_honest_method_runs_without_weak_masks(finished_run, tmp_path):
    """Weak supervision is honest: delete the weak masks, and every method of the registry that
    is not flagged as reading them still builds, and so does a segmentation network of every
    training scheme (per family: one trained on a method's pseudo labels; every network on
    several estimates; every semi-supervised scheme); the whole run reaches its report, which
    says that pseudo-label quality could not be measured. (A network trained on pseudo labels
    reads nothing but them and D_c: its honesty is that of its labels, all built here.)"""
    source = finished_run / "results/data/synthetic"
    copy = tmp_path / "data"
    shutil.copytree(source, copy)
    manifest = read_manifest(finished_run / "results/data/manifest.csv")
    weak = ids_with_role(manifest, "weak")
    for image_id in weak:
        (copy / "SegmentationClass" / f"{image_id}.png").unlink()
    labels = [m for m in REGISTRY.names(LABEL_MAPS) if not REGISTRY.reads_weak_masks(m, LABEL_MAPS)]
    honest = [
        REGISTRY.get(m, CHECKPOINT)
        for m in REGISTRY.names(CHECKPOINT, stage="train_segmentation")
        if not REGISTRY.reads_weak_masks(m, CHECKPOINT)
    ]
    assert "detect_gat_crf" in labels and "oracle_gat_crf" not in labels
    # A network per label method, plus those trained on several estimates at once (Fan et al.)
    # and the semi-supervised schemes (MLLC).
    assert {m.name for m in honest} - set(labels) == set(MULTI) | set(VARIANTS)
    assert "full_gt" not in {m.name for m in honest}
    first_per_family = {}
    for m in honest:
        if m.options["labels"] == "pseudo":
            first_per_family.setdefault(m.family, m.name)
    networks = [*first_per_family.values(), *MULTI, *VARIANTS]
    assert {m.options["labels"] for m in honest} == {"pseudo", "estimates", "mllc"}
    config = tmp_path / "weak_masks_deleted.yaml"
    settings = {
        "dataset": {"kind": "voc", "root": str(copy)},
        "methods": labels,
        "segment": {"methods": networks, "network": {"epochs": 1}},
    }
    config.write_text(yaml.safe_dump(settings))
    workdir = tmp_path / "run"
    snakemake(workdir, configfiles=("tests/configs/tiny.yaml", str(config)))
    for method in labels:
        written = list((workdir / f"results/pseudo_labels/{method}/shard0").glob("*.png"))
        assert len(written) == len(weak), method
    for method in networks:
        assert (workdir / f"results/models/segmentation/{method}/repeat0.pt").stat().st_size > 0
    assert ids_with_role(read_manifest(workdir / "results/data/manifest.csv"), "weak") == weak
    table = pd.read_csv(workdir / "results/metrics/pseudo_labels.csv")
    assert (table["images"] == 0).all() and (table["images_without_mask"] == len(weak)).all()
    assert table["miou"].isna().all()
    report = (workdir / "results/report.md").read_text()
    assert f"none of the {len(weak)} weak images has a mask" in report
    segmentation = pd.read_csv(workdir / "results/metrics/segmentation.csv")
    assert segmentation["miou"].notna().all()  # val masks are still there


def test_unknown_config_key_fails_at_start_naming_it(tmp_path):
    result = snakemake(tmp_path, "--dry-run", "--config", "classifer={epochs: 1}", check=False)
    assert result.returncode != 0
    assert "classifer" in result.stderr + result.stdout


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dataset_reader_sees_generated_tree(finished_run):
    dataset = VocDataset(finished_run / "results/data/synthetic")
    assert dataset.classes.background == 0 and dataset.classes.names == CLASS_NAMES


def _markdown_rows(report: str, heading: str) -> list[list[str]]:
    """Cells of the first table after ``heading`` in the Markdown report."""
    section = report.split(heading, 1)[1]
    lines = [line for line in section.split("\n\n", 3)[2].splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_segmentation_table_and_report_match_the_csvs(finished_run):
    results = finished_run / "results"
    table = pd.read_csv(results / "metrics/segmentation.csv")
    networks = ["cam", "detect", "detect_gat_crf", "oracle_gat_crf"]  # Table V, default
    assert table["method"].tolist() == ["dc_only", *networks]
    assert table["repeats"].tolist() == [1] * 5 and table["miou_std"].isna().all()
    assert table["reads_weak_masks"].tolist() == [False] * 4 + [True]  # the oracle
    runs = pd.read_csv(results / "metrics/segmentation_repeats.csv")
    assert runs[["method", "repeat", "seed"]].values.tolist() == [
        [m, 0, 0] for m in ["dc_only", *networks]]  # fmt: skip
    assert (table["split"] == "val").all() and (table["images"] == 8).all()
    assert table["miou"].between(0, 100).all() and table["pixel_acc"].between(0, 1).all()
    assert {f"iou_{name}" for name in CLASS_NAMES} <= set(table.columns)
    history = pd.read_csv(results / "models/segmentation/detect_gat_crf/repeat0_log.csv")
    assert history["epoch"].tolist() == [1, 2]
    report = (results / "report.md").read_text()
    rows = _markdown_rows(report, "## Segmentation network on val")
    assert [(r[0], float(r[4])) for r in rows] == [
        (m, round(v, 2)) for m, v in zip(table["method"], table["miou"], strict=True)
    ]
    pseudo = pd.read_csv(results / "metrics/pseudo_labels.csv")
    rows = _markdown_rows(report, "## Pseudo-label quality on the weak set D_n")
    assert [(r[0], float(r[2])) for r in rows] == [
        (m, round(v, 2)) for m, v in zip(pseudo["method"], pseudo["miou"], strict=True)
    ]
    # The tiny config sets its own classifier crop and GNN epochs, the default's two settings
    # chosen on weak masks that shape Yi et al.'s family: no row was tuned on its images.
    assert [r[-1] for r in rows] == ["False"] * len(pseudo)
    assert "- yi: no setting chosen on the scored images" in report
    assert "## What this run shows" in report and "Best segmentation network" in report
    # The opening: the recommendation (single trainings: none), the kind of CAM error, the
    # league table of the networks that do not read weak masks, the time per family.
    opening = report.split("## What this run shows\n\n")[1].splitlines()
    assert opening[0].startswith("No network can be recommended")
    assert opening[1].startswith("The CAM errors are mostly")  # a background class here
    league = _markdown_rows(report, "### League table of the segmentation networks (val)")
    competing = table[~table["reads_weak_masks"]].sort_values("miou", ascending=False)
    assert [r[1] for r in league] == competing["method"].tolist()
    times = _markdown_rows(report, "### Time per family")
    families = {r[0]: r for r in times}
    assert {"yi", "baseline", "shared"} <= set(families) and "detect_gat_crf" in families["yi"][1]
    jobs = pd.read_csv(results / "metrics/benchmarks.csv")
    assert float(families["all"][3]) == pytest.approx(jobs["seconds"].sum(), abs=1)
    assert "### Pseudo labels and the networks trained on them, side by side" in report
    figure = results / "figures/qualitative.png"
    assert figure.stat().st_size > 5000 and "figures/qualitative.png" in report
    predictions = sorted((results / "segmentation/dc_only/repeat0/predictions").glob("*.png"))
    assert len(predictions) == 8


def test_evaluate_cli_reproduces_the_workflow_on_a_folder_it_never_saw(finished_run, tmp_path):
    """Copy the val images to a bare folder (no classes.json): the checkpoint is enough."""
    source = finished_run / "results/data/synthetic"
    folder = tmp_path / "unseen"
    val = (source / "ImageSets/Segmentation/val.txt").read_text().split()
    for sub, ext in (("JPEGImages", "jpg"), ("SegmentationClass", "png")):
        (folder / sub).mkdir(parents=True)
        for image_id in val:
            shutil.copy(source / sub / f"{image_id}.{ext}", folder / sub)
    (folder / "ImageSets/Segmentation").mkdir(parents=True)
    (folder / "ImageSets/Segmentation/holdout.txt").write_text("\n".join(val))
    checkpoint = finished_run / "results/models/segmentation/detect_gat_crf/repeat0.pt"
    result = subprocess.run(
        [sys.executable, "-m", "pixelnoise", "evaluate", "--checkpoint", str(checkpoint),
         "--data-root", str(folder), "--split", "holdout", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    table = pd.read_csv(finished_run / "results/metrics/segmentation.csv").set_index("method")
    expected = table.loc["detect_gat_crf", "miou"]
    assert result.stdout.strip().splitlines()[-1] == f"mIoU={expected:.2f}"
    assert len(list((tmp_path / "out/predictions").glob("*.png"))) == len(val)


def test_html_report_registers_figures_and_tables(finished_run, tmp_path):
    html = tmp_path / "report.html"
    snakemake(finished_run, "--report", str(html))
    text = html.read_text(errors="replace")
    for item in ("qualitative.png", "theta_curve.png", "segmentation.csv", "pseudo_labels.csv"):
        assert item in text


def test_every_rule_is_benchmarked_and_gathered(finished_run):
    benchmarks = pd.read_csv(finished_run / "results/metrics/benchmarks.csv")
    rules = set(benchmarks["rule"])
    expected = {"generate_dataset", "train_classifier", "export_cams", "correct_labels",
                "pseudo_labels", "train_segmentation", "evaluate_segmentation"}  # fmt: skip
    assert expected <= rules
    assert (benchmarks["seconds"] > 0).all()
    # Snakemake samples memory while a job runs: a sub-second job may end before the first
    # sample (build_manifest took 0.47 s with max_rss 0 on a busy machine).
    assert (benchmarks.loc[benchmarks["seconds"] > 2, "max_rss_mb"] > 0).all()
    assert len(benchmarks[benchmarks["rule"] == "correct_labels"]) == 4  # one job per run
