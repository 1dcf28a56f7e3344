"""The benchmark scripts that docs/benchmarks.md quotes keep working (not how fast they run)."""

import re
import subprocess
import sys

import pandas as pd
import pytest

from pixelnoise.data.synthetic import generate_dataset


def test_component_timings_script_reports_every_component(repo, tmp_path):
    root = tmp_path / "data"
    generate_dataset(root, seed=3, n_train=4, n_val=1, size_range=(48, 56))
    out = subprocess.run(
        [
            sys.executable,
            str(repo / "benchmarks/components.py"),
            "--configfile",
            str(repo / "tests/configs/tiny.yaml"),
            "--root",
            str(root),
            "--images",
            "3",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
    ).stdout
    assert out.startswith("3 images of ")
    rows = dict(re.findall(r"^\| ([^|]+) \| ([0-9.]+) \| [0-9.]+ \|$", out, re.MULTILINE))
    expected = ["clean-model features", "SLIC + graph (eq. 3-4)", "back-projection", "dense CRF"]
    expected += [f"{k} training, {b} (" for k in ("GAT", "GCN") for b in ("dgl", "torch")]
    expected += ["WSGCN partial labels", "WSGCN GCN on superpixels", "WSGCN GCN on pixel grid"]
    expected += ["WSGCN dense CRF"]
    for name in expected:
        assert any(row.startswith(name) for row in rows), (name, out)
    slow = [name for name in rows if "training" in name or "GCN on" in name or "SLIC" in name]
    assert all(float(rows[name]) > 0 for name in slow), out  # printed to 3 decimals
    assert re.search(r"^peak RSS: \d+ MB$", out, re.MULTILINE)


@pytest.mark.parametrize(("precision", "dtype"), [("config", "float32"), ("bfloat16", "bfloat16")])
def test_mllc_step_script_times_every_part(repo, precision, dtype):
    command = [
        sys.executable, str(repo / "benchmarks/mllc_step.py"),
        "--configfile", str(repo / "tests/configs/tiny.yaml"),
        "--classes", "3", "--steps", "1", "--threads", "1", "--precision", precision,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=repo).stdout
    assert re.match(rf"batch \d+, crop \d+, \w+, amp False \({dtype}\), ", out), out
    rows = dict(re.findall(r"^\| ([^|]+) \| ([0-9.]+) \| [0-9.]+ \|$", out, re.MULTILINE))
    names = ["train_segmentation step", "mllc_st step", "mllc step", "dual graphs, "]
    names += ["  kNN graph", "  class-level product", "  contrastive terms"]
    for name in names:
        assert any(row.startswith(name) and float(ms) > 0 for row, ms in rows.items()), out
    assert re.search(r"^peak RSS: \d+ MB$", out, re.MULTILINE)


@pytest.mark.slow
def test_segmentation_training_script_compares_settings(repo, finished_run, tmp_path):
    out_csv = tmp_path / "compare.csv"
    root = finished_run / "results/data/synthetic"
    config = tmp_path / "root.yaml"
    config.write_text(f"dataset:\n  root: {root}\n")
    command = [
        sys.executable, str(repo / "benchmarks/segmentation_training.py"),
        "--configfile", str(repo / "tests/configs/tiny.yaml"), "--configfile", str(config),
        "--run-dir", str(finished_run), "--seeds", "0", "1", "--threads", "1",
        "--setting", "plain: epochs=1", "--setting", "warm: epochs=1 init=clean_model amp=true",
        "--out", str(out_csv),
    ]  # fmt: skip
    printed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=repo).stdout
    rows = pd.read_csv(out_csv)
    assert rows[["setting", "seed"]].values.tolist() == [
        ["plain", 0], ["plain", 1], ["warm", 0], ["warm", 1]]  # fmt: skip
    assert (rows["seconds"] > 0).all() and rows["miou"].between(0, 100).all()
    assert "| warm" in printed and "miou_std" in printed
    again = subprocess.run(command, capture_output=True, text=True, check=True, cwd=repo)
    assert "{'setting'" not in again.stdout  # finished rows are not trained again


@pytest.mark.slow
def test_pseudo_label_anatomy_accounts_for_every_weak_pixel(repo, finished_run):
    command = [
        sys.executable, str(repo / "benchmarks/pseudo_label_anatomy.py"),
        "--run", str(finished_run), "--configfile", str(repo / "tests/configs/tiny.yaml"),
        "--methods", "detect_gat_crf",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=repo).stdout
    kinds = re.findall(r"^\| ([a-z ]+) \| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$", out, re.MULTILINE)
    assert [k[0] for k in kinds] == [
        "right object", "missed object", "false object", "right background"
    ]  # fmt: skip
    # The pixel counts agree with the evaluation's error split of the CAM labels: the four
    # kinds are every non-void weak pixel but the wrong classes.
    cam = pd.read_csv(finished_run / "results/metrics/pseudo_labels.csv").set_index("method")
    cam = cam.loc["cam"]
    counts = {kind: int(n) for kind, n, _, _ in kinds}
    pixels = sum(counts.values()) / (1 - cam["wrong_class"])
    assert counts["missed object"] / pixels == pytest.approx(cam["missed_fg"], abs=2e-4)
    assert counts["false object"] / pixels == pytest.approx(cam["false_fg"], abs=2e-4)
    fills = dict(re.findall(r"^\| (cam|detect_gat_crf) \| ([0-9.]+) \|$", out, re.MULTILINE))
    assert set(fills) == {"cam", "detect_gat_crf"}
    assert all(0.0 <= float(v) <= 1.0 for v in fills.values())
