"""The families preset and the report's opening: the league table, the recommendation, the time
per family and the kind of CAM error, on small hand-made tables."""

import os

import pandas as pd
import pytest
from conftest import REPO, SCHEMA
from snakemake.utils import validate

from pixelnoise.cam_errors import cam_error_sentence
from pixelnoise.comparison import league_table, recommendation
from pixelnoise.config import load_config
from pixelnoise.family_time import NOT_LISTED, SHARED, family_times, run_methods
from pixelnoise.methods import CHECKPOINT, LABEL_MAPS, REGISTRY
from pixelnoise.stages.report import gather_benchmarks


def segmentation_table(scores: dict[str, list[float]], upper_bounds=()) -> pd.DataFrame:
    """The segmentation CSV's columns from per-seed scores (as gather_segmentation_metrics)."""
    rows = []
    for method, values in scores.items():
        series = pd.Series(values)
        rows.append({
            "method": method, "repeats": len(values), "miou": series.mean(),
            "miou_std": series.std(ddof=1), "reads_weak_masks": method in upper_bounds,
        })  # fmt: skip
    return pd.DataFrame(rows)


FAMILIES = {"dc_only": "baseline", "cam": "yi", "detect_gat_crf": "yi", "mllc_yi": "mllc"}


def test_a_winner_beyond_the_noise_is_recommended():
    table = segmentation_table({
        "dc_only": [18.0], "cam": [27.0, 29.0, 28.0], "detect_gat_crf": [30.0, 30.5, 29.5],
        "mllc_yi": [33.0, 32.5, 33.5], "oracle_gat_crf": [60.0, 61.0, 59.0],
    }, upper_bounds=["oracle_gat_crf"])  # fmt: skip
    league = league_table(table, FAMILIES)
    # best mean first; the upper bound does not compete
    assert league["network"].tolist() == ["mllc_yi", "detect_gat_crf", "cam", "dc_only"]
    assert league["rank"].tolist() == [1, 2, 3, 4]
    assert league["family"].tolist() == ["mllc", "yi", "yi", "baseline"]
    top = league.set_index("network")
    assert top.loc["mllc_yi", "val mIoU"] == "33.00 ± 0.50 (n=3)"
    # noise of two 3-seed means with std 0.5 each: 2 * sqrt(0.25/3 * 2) = 0.82
    assert top.loc["detect_gat_crf", "vs leader"] == "-3.00 (> noise 0.82)"
    assert top.loc["mllc_yi", "vs leader"] == "—"
    assert top.loc["detect_gat_crf", "vs next below"] == "+2.00 (> noise 1.29)"
    assert top.loc["cam", "vs next below"] == "+10.00 (1 run, no spread)"
    assert top.loc["dc_only", "vs next below"] == "—"
    sentence = recommendation(table)
    assert sentence.startswith("Recommended: **mllc_yi** (val mIoU 33.00 ± 0.50 over 3 trainings)")
    assert "(the runner-up, detect_gat_crf, by +3.00 against a noise of 0.82)" in sentence
    assert sentence.endswith("and above dc_only (18.00).")


def test_no_winner_when_the_lead_over_any_network_is_within_the_noise():
    # mllc_yi clearly beats cam, but not detect_gat_crf (spread 2): no recommendation
    table = segmentation_table({
        "dc_only": [18.0], "cam": [27.0, 27.5, 26.5], "detect_gat_crf": [29.0, 33.0, 31.0],
        "mllc_yi": [32.0, 32.5, 31.5],
    })  # fmt: skip
    sentence = recommendation(table)
    assert sentence.startswith("No network is best beyond the noise: mllc_yi leads")
    assert "but detect_gat_crf is within the noise of it" in sentence
    assert "cam" not in sentence.split("but")[1]
    league = league_table(table, FAMILIES).set_index("network")
    # noise: 2 * sqrt(4/3 + 0.25/3)
    assert league.loc["detect_gat_crf", "vs leader"] == "-1.00 (within noise 2.38)"
    # two networks tied with the leader are both named
    tied = segmentation_table({"cam": [31.0, 32.0, 30.0], "detect_gat_crf": [29.0, 33.0, 31.0],
                               "mllc_yi": [32.0, 32.5, 31.5]})  # fmt: skip
    assert "but cam and detect_gat_crf are within the noise" in recommendation(tied)


def test_single_trainings_measure_no_noise_and_recommend_nothing():
    table = segmentation_table({"dc_only": [18.0], "cam": [27.0], "detect_gat_crf": [35.0]})
    sentence = recommendation(table)
    assert sentence.startswith("No network can be recommended beyond the noise: detect_gat_crf")
    assert "single trainings measure no noise" in sentence
    league = league_table(table, FAMILIES)
    assert league["val mIoU"].tolist() == ["35.00 (n=1)", "27.00 (n=1)", "18.00 (n=1)"]
    assert league.loc[1, "vs leader"] == "-8.00 (1 run, no spread)"


def test_a_network_below_the_clean_model_is_not_recommended():
    table = segmentation_table({"dc_only": [30.0], "cam": [27.0, 28.0], "mllc": [20.0, 21.0]})
    assert recommendation(table).startswith(
        "No network can be recommended: the best trained on weak labels, cam"
    )
    assert recommendation(segmentation_table({"dc_only": [30.0]})).startswith(
        "No network can be recommended: none"
    )


def write_benchmark(root, relative: str, seconds: float, cpu: float, finished: int) -> None:
    """A Snakemake benchmark file; ``finished``: its modification time (the jobs' order)."""
    path = root / f"{relative}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:01\t100.0\t{cpu}\n")
    os.utime(path, (finished, finished))


def test_time_is_summed_per_family_with_shared_stages_once(tmp_path):
    jobs = {
        "train_classifier": (300, 290),  # shared: CAMs for every family
        "export_cams/shard0": (50, 45),
        "train_clean_model": (150, 140),  # dc_only, the losses and the networks' init: shared
        "score_pixels/shard0": (20, 19),  # losses: only Yi et al.'s detection reads them
        "select_theta": (2, 2),
        "build_graphs/shard0": (60, 55),  # Yi et al. and WSGCN: shared
        "train_second_classifier": (68, 120),  # Fan et al.'s estimates only
        "export_scale_cams/second/s075/shard0": (20, 30),
        "correct_labels/detect_gat/shard0": (70, 65),
        "correct_labels/wsgcn/shard0": (144, 140),
        "pseudo_labels/cam/shard0": (5, 4),
        "pseudo_labels/detect_gat_crf/shard0": (30, 28),
        "pseudo_labels/wsgcn_crf/shard0": (33, 30),
        "pseudo_labels/fan_c_second_s075/shard0": (25, 24),
        "train_segmentation/cam/repeat0": (130, 250),
        "train_segmentation/cam/repeat1": (131, 251),
        "train_segmentation/mllc_yi/repeat0": (200, 390),  # mllc, though it reads Yi's labels
        "evaluate_segmentation/dc_only/repeat0": (10, 9),
        "evaluate_segmentation/mllc_yi/repeat0": (11, 10),
        "train_segmentation/detect/repeat0": (99, 99),  # left by an earlier configuration
        "report": (3, 3),
    }
    for finished, (relative, (seconds, cpu)) in enumerate(jobs.items(), start=1_000_000):
        write_benchmark(tmp_path, relative, seconds, cpu, finished)
    methods = run_methods(
        REGISTRY,
        {CHECKPOINT: ["dc_only", "cam", "wsgcn_crf", "mllc_yi"],
         LABEL_MAPS: ["cam", "detect_gat_crf", "fan_c_second_s075"]},
    )  # fmt: skip
    table = family_times(gather_benchmarks(tmp_path), methods).set_index("family")
    # families in the order their first job finished, then the shared jobs
    assert list(table.index) == ["yi", "fan", "wsgcn", "mllc", "baseline", SHARED, NOT_LISTED]
    expected = {
        "yi": (20 + 2 + 70 + 5 + 30 + 130 + 131, 7),
        "wsgcn": (144 + 33, 2),
        "fan": (68 + 20 + 25, 3),
        "mllc": (200 + 11, 2),
        "baseline": (10, 1),
        SHARED: (300 + 50 + 150 + 60 + 3, 5),
        NOT_LISTED: (99, 1),
    }
    assert {f: (round(r.seconds), r.jobs) for f, r in table.iterrows()} == expected
    assert table.loc["fan", "cpu_seconds"] == pytest.approx(120 + 30 + 24)
    assert table["seconds"].sum() == pytest.approx(sum(s for s, _ in jobs.values()))
    # with Yi et al.'s network alone, the CAMs and graphs are its own
    yi_only = run_methods(REGISTRY, {CHECKPOINT: ["detect_gat_crf"]})
    table = family_times(gather_benchmarks(tmp_path), yi_only).set_index("family")
    assert table.loc["yi", "seconds"] == pytest.approx(50 + 20 + 2 + 60 + 70 + 30)
    assert table.loc[SHARED, "seconds"] == pytest.approx(300 + 150 + 3)
    # Fan et al.'s second classifier and its CAMs, needed by no method of this run, count apart
    # with the other families' 10 jobs
    assert table.loc[NOT_LISTED, "jobs"] == 2 + 10


@pytest.mark.parametrize("dataset", ["config/config.yaml", "config/msrc21.yaml"])
def test_families_preset_validates_and_names_registered_methods(dataset):
    config = load_config([REPO / dataset, REPO / "config/families.yaml"])
    validate(config, str(SCHEMA))
    networks = config["segment"]["methods"]
    assert config["segment"]["repeats"] == 3
    headline = {"cam", "detect_gat_crf", "fan12_wst", "mllc", "mllc_yi"}
    assert headline <= set(networks)
    families = {REGISTRY.get(m, CHECKPOINT).family for m in networks}
    assert families == {"yi", "wsgcn", "fan", "mllc"}  # dc_only is always evaluated
    assert not any(REGISTRY.reads_weak_masks(m, CHECKPOINT) for m in networks)
    for name in config["methods"]:
        REGISTRY.get(name, LABEL_MAPS)
    assert "cam" in config["methods"]  # the opening's CAM-error sentence reads its row
    # the dataset config's own settings survive the merge
    dataset_only = load_config([REPO / dataset])
    assert config["segment"]["network"] == dataset_only["segment"]["network"]


def test_the_cam_error_kind_is_read_from_the_numbers():
    def sentence(**errors):
        row = {"method": "cam", "precision": 1 - sum(errors.values()), **errors}
        return cam_error_sentence(pd.DataFrame([row, {**row, "method": "detect"}]))

    blur = sentence(missed_fg=0.10, false_fg=0.06, wrong_class=0.04)
    assert blur.startswith("The CAM errors are mostly extent errors, above all missed objects")
    assert "missed objects are 50%, spill-over 30% and wrong classes 20%" in blur
    assert "tends to shrink at the network" in blur
    spill = sentence(missed_fg=0.02, false_fg=0.10, wrong_class=0.07)
    assert "above all spill-over" in spill
    classes = sentence(missed_fg=0.02, false_fg=0.03, wrong_class=0.15)
    assert classes.startswith("The CAM errors are mostly wrong classes")
    assert "can carry over to the network" in classes
    no_background = pd.DataFrame({"method": ["cam"], "precision": [0.64]})
    assert cam_error_sentence(no_background).startswith(
        "No background class: every CAM error is a wrong class (36% of the CAM pixels)"
    )
    # a table without the cam row says so instead of guessing
    assert "not scored" in cam_error_sentence(pd.DataFrame({"method": ["detect"]}))


def test_report_opens_with_recommendation_cam_errors_league_and_time(tmp_path):
    """write_report on a hand-made finished run of a dataset without a background class."""
    from pixelnoise.stages.report import write_report

    root = tmp_path / "dataset"
    root.mkdir()
    (root / "classes.json").write_text('{"classes": ["grass", "cow"], "background": null}')
    config = load_config()
    config["dataset"].update(kind="voc", root=str(root))
    results = tmp_path / "results"
    results.mkdir()

    def csv(name: str, rows: list[dict]) -> str:
        pd.DataFrame(rows).to_csv(results / name, index=False)
        return str(results / name)

    scores = {"dc_only": [18.0], "cam": [27.0, 29.0, 28.0], "mllc_yi": [33.0, 32.5, 33.5]}
    segmentation = segmentation_table(scores).assign(
        split="val", images=4, pixel_acc=0.7, trained_on="", iou_grass=50.0, iou_cow=10.0
    )
    pseudo = {"images": 8, "coverage": 1.0, "cam_fallbacks": 0, "reads_weak_masks": False,
              "iou_grass": 60.0, "iou_cow": 30.0}  # fmt: skip
    theta = {"theta": 1.5, "rule": "accuracy", "min_accuracy": 0.9, "accuracy": 0.9,
             "coverage": 0.5}  # fmt: skip
    (results / "theta.json").write_text(pd.Series(theta).to_json())
    write_benchmark(results / "benchmarks", "train_classifier", 300, 290, 1_000_000)
    write_benchmark(
        results / "benchmarks", "train_segmentation/mllc_yi/repeat0", 200, 390, 1_000_001
    )
    inputs = {
        "manifest": csv("manifest.csv", [
            {"image_id": i, "split": s, "role": r, "labels": "0 1", "height": 8, "width": 8}
            for i, s, r in [("a", "train", "strong"), ("b", "train", "weak"), ("c", "val", "val")]
        ]),
        "pseudo_labels": csv("pseudo.csv", [
            {"method": "cam", "miou": 40.0, "precision": 0.64, **pseudo},
            {"method": "detect_gat_crf", "miou": 45.0, "precision": 0.7, **pseudo},
        ]),
        "segmentation": csv("segmentation.csv", segmentation.to_dict("records")),
        "sweep": csv("sweep.csv", [{"tau_bg": 0.3, "miou": 40.0, "precision": 0.6, "coverage": 1}]),
        "classifier_history": csv("classifier.csv", [{"epoch": 1, "loss": 0.5}]),
        "clean_history": csv("clean.csv", [{"epoch": 1, "loss": 0.7}]),
        "theta": str(results / "theta.json"),
        "theta_curve": csv("curve.csv", [{"theta": 1.5, "accuracy": 0.9, "coverage": 0.5}]),
        "figure": str(results / "figures/qualitative.png"),
        "tau_bg": [],  # auto, without a background class: nothing to choose
        "tau_bg_curve": [],
    }  # fmt: skip
    text = write_report(
        out_path=str(results / "report.md"), inputs=inputs, config=config, workflow_dir=tmp_path
    )
    opening = text.split("## What this run shows\n\n", 1)[1].split("\n## Run", 1)[0]
    lines = opening.splitlines()
    assert lines[0].startswith("Recommended: **mllc_yi** (val mIoU 33.00 ± 0.50 over 3")
    assert lines[1].startswith("No background class: every CAM error is a wrong class (36%")
    assert opening.index("### League table") < opening.index("### Time per family")
    assert table_rows(opening, "### League table") == [
        ["1", "mllc_yi", "mllc", "33.00 ± 0.50 (n=3)", "—", "+5.00 (> noise 1.29)"],
        ["2", "cam", "yi", "28.00 ± 1.00 (n=3)", "-5.00 (> noise 1.29)",
         "+10.00 (1 run, no spread)"],
        ["3", "dc_only", "baseline", "18.00 (n=1)", "-15.00 (1 run, no spread)", "—"],
    ]  # fmt: skip
    assert table_rows(opening, "### Time per family") == [
        ["mllc", "mllc_yi", "1", "200", "390"],
        [SHARED, "", "1", "300", "290"],
        ["all", "", "2", "500", "680"],
    ]
    assert "cam.tau_bg is unused: the dataset has no background class" in text
    # Both families listed have a setting chosen on the weak masks (correct.epochs, the
    # classifier's crop size): their pseudo-label rows say so.
    rows = table_rows(text, "## Pseudo-label quality on the weak set D_n")
    assert [(r[0], r[-1]) for r in rows] == [("cam", "True"), ("detect_gat_crf", "True")]
    tuned = table_rows(text, "## Tuned settings and where they were chosen")
    assert ["cam.tau_bg", "auto", "D_c (auto)"] == tuned[0][:3]
    assert (results / "report.md").read_text() == text


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading``."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows
