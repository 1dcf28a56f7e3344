"""Stages that only read arrays and write labels or tables must not import torch or DGL: a
job pays ~1.5 s to import torch and ~1 s more for DGL, and a GNN rerun runs many such jobs."""

import subprocess
import sys

import pytest

LIGHT_STAGES = [
    "pixelnoise.stages.pseudo_labels",  # the stage; cam and detect jobs load only these:
    "pixelnoise.cam_labels",
    "pixelnoise.detect",
    "pixelnoise.corrected_labels",  # label maps and the dense CRF
    "pixelnoise.stages.evaluate_pseudo_labels",
    "pixelnoise.stages.cam_threshold_sweep",
    "pixelnoise.stages.choose_tau_bg",
    "pixelnoise.stages.select_theta",
    "pixelnoise.stages.build_manifest",
    "pixelnoise.stages.report",
    "pixelnoise.stages.gather_segmentation_metrics",
    "pixelnoise.methods",  # the registry, read by the Snakefile
    "pixelnoise.workflow",  # every script's glue
]


@pytest.mark.parametrize("module", LIGHT_STAGES)
def test_stage_imports_neither_torch_nor_dgl(module):
    check = f"import sys, {module}; print(sorted({{'torch', 'dgl'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()}"
