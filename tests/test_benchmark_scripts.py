"""The benchmark scripts that docs/benchmarks.md quotes keep working (not how fast they run)."""

import re
import subprocess
import sys

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
    for name in expected:
        assert any(row.startswith(name) for row in rows), (name, out)
    slow = [name for name in rows if "training" in name or name.startswith("SLIC")]
    assert all(float(rows[name]) > 0 for name in slow), out  # printed to 3 decimals
    assert re.search(r"^peak RSS: \d+ MB$", out, re.MULTILINE)
