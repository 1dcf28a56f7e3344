import copy

import pytest
import yaml
from conftest import REPO, SCHEMA, merged_config
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


@pytest.mark.parametrize(
    "extra", [[], ["config/msrc21.yaml"], ["config/voc12.yaml"], ["tests/configs/tiny.yaml"]]
)
def test_shipped_configs_validate(extra):
    config = merged_config(*(REPO / p for p in extra))
    validate(config, str(SCHEMA))


def test_defaults_are_filled_in():
    config = {"dataset": {"kind": "voc", "root": "x"}}
    validate(config, str(SCHEMA))
    assert config["seed"] == 0 and config["device"] == "auto"
    assert config["dataset"]["mask_dir"] == "SegmentationClass"


def test_default_config_spells_out_every_schema_key():
    written = yaml.safe_load((REPO / "config/config.yaml").read_text())
    filled = copy.deepcopy(written)
    validate(filled, str(SCHEMA))

    def keys(tree, prefix=""):
        if not isinstance(tree, dict) or prefix.endswith("strong."):
            return set()
        return {prefix + k for k in tree} | {
            key for k, v in tree.items() for key in keys(v, f"{prefix}{k}.")
        }

    assert keys(filled) == keys(written)


@pytest.mark.parametrize(
    "section,key,value,named",
    [
        ("classifier", "epochz", 3, "epochz"),
        (None, "shardz", 2, "shardz"),
        ("classifier", "backbone", "vgg99", "vgg99"),
        ("cam", "tau_bg", 1.5, "tau_bg"),
        (None, "device", "tpu", "device"),
    ],
)
def test_bad_key_or_value_fails_naming_it(section, key, value, named):
    config = merged_config()
    (config[section] if section else config)[key] = value
    with pytest.raises(WorkflowError) as error:
        validate(config, str(SCHEMA))
    assert named in str(error.value)


def test_strong_set_takes_exactly_one_rule():
    config = merged_config()
    config["split"]["strong"] = {"count": 3, "fraction": 0.1}
    with pytest.raises(WorkflowError):
        validate(config, str(SCHEMA))


def test_full_gt_baseline_is_planned_when_enabled(tmp_path):
    from workflow_runner import snakemake

    flag = tmp_path / "full_gt.yaml"
    flag.write_text("segment:\n  full_gt: true\n")
    result = snakemake(tmp_path, "--dry-run", configfiles=("tests/configs/tiny.yaml", str(flag)))
    out = result.stdout + result.stderr
    assert "results/models/segmentation/full_gt.pt" in out
    assert "results/segmentation/full_gt" in out
