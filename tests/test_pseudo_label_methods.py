"""The method registry: every method declared once, unknown names are errors, weak-mask
accounting is transitive, and the schema's method lists agree with it."""

import subprocess
import sys

import pytest
import yaml
from conftest import SCHEMA

from pixelnoise.errors import ConfigError
from pixelnoise.methods import (
    CHECKPOINT,
    LABEL_MAPS,
    NODE_PROBABILITIES,
    REGISTRY,
    Method,
    Registry,
)
from pixelnoise.supervision import SOURCES, source


@pytest.mark.parametrize(
    "method,run,crf",
    [
        ("detect_gat", "detect_gat", False),
        ("detect_gcn", "detect_gcn", False),
        ("camseeds_gat", "camseeds_gat", False),
        ("detect_gat_crf", "detect_gat", True),
        ("oracle_gat_crf", "oracle_gat", True),
    ],
)
def test_corrected_methods_consume_their_run(method, run, crf):
    spec = REGISTRY.get(method, LABEL_MAPS)
    assert spec.crf is crf and spec.options["run"] == run
    assert f"{NODE_PROBABILITIES}:{run}" in spec.consumes
    assert REGISTRY.get(run, NODE_PROBABILITIES).stage == "correct_labels"


def test_cam_and_detect_need_no_graph():
    assert REGISTRY.get("cam", LABEL_MAPS).consumes == ("cams",)
    assert set(REGISTRY.get("detect", LABEL_MAPS).consumes) == {"cams", "losses", "theta"}


@pytest.mark.parametrize("method", ["gat", "cam_crf", "detect_crf", "detect_sage"])
def test_unknown_method_is_a_clear_error(method):
    with pytest.raises(ConfigError, match="`methods`"):
        REGISTRY.get(method, LABEL_MAPS)


def test_unknown_segmentation_method_names_its_key():
    with pytest.raises(ConfigError, match="segment.methods"):
        REGISTRY.get("mllc_nonexistent", CHECKPOINT)


def test_unknown_supervision_source_is_an_error_not_the_oracle():
    with pytest.raises(ConfigError, match="supervision source"):
        source("ground_truth")


def test_weak_mask_flags_come_from_the_sources_and_propagate():
    for run in REGISTRY.names(NODE_PROBABILITIES):
        spec = REGISTRY.get(run, NODE_PROBABILITIES)
        assert spec.reads_weak_masks == SOURCES[spec.options["supervision"]].reads_weak_masks
    assert REGISTRY.reads_weak_masks("oracle_gat", NODE_PROBABILITIES)
    assert REGISTRY.reads_weak_masks("oracle_gat_crf", LABEL_MAPS)
    assert REGISTRY.reads_weak_masks("oracle_gat_crf", CHECKPOINT)  # trained on oracle labels
    assert REGISTRY.reads_weak_masks("full_gt", CHECKPOINT)
    honest = [m for m in REGISTRY.names(LABEL_MAPS) if not m.startswith("oracle")]
    assert not any(REGISTRY.reads_weak_masks(m, LABEL_MAPS) for m in honest)
    assert not REGISTRY.reads_weak_masks("dc_only", CHECKPOINT)


def test_every_method_module_exists_and_implements_its_product():
    hooks = {LABEL_MAPS: "labeller", NODE_PROBABILITIES: "correct"}
    for method in REGISTRY:
        module = method.implementation()
        if method.produces in hooks:
            assert callable(getattr(module, hooks[method.produces])), method.key


def test_registry_rejects_duplicates_and_dangling_inputs():
    cam = REGISTRY.get("cam", LABEL_MAPS)
    with pytest.raises(ValueError, match="twice"):
        Registry([cam, cam])
    dangling = Method("x", "f", LABEL_MAPS, "pseudo_labels", ("label_maps:nope",), "m")
    with pytest.raises(ValueError, match="no method produces"):
        Registry([dangling])


def test_lineage_lists_upstream_first():
    names = [m.key for m in REGISTRY.lineage("detect_gat_crf", CHECKPOINT)]
    assert names == [
        "node_probabilities:detect_gat",
        "label_maps:detect_gat_crf",
        "checkpoint:detect_gat_crf",
    ]


def test_schema_method_enum_is_the_registry():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert sorted(schema["definitions"]["method"]["enum"]) == sorted(REGISTRY.names(LABEL_MAPS))
    segment = schema["definitions"]["segmentation_method"]
    trained = REGISTRY.names(CHECKPOINT, stage="train_segmentation")
    assert sorted(segment["enum"]) == sorted(m for m in trained if m != "full_gt")


def test_registry_imports_neither_torch_nor_dgl():
    check = "import sys, pixelnoise.methods; print(sorted({'torch', 'dgl'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
