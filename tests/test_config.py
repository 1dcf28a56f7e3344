import copy
import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, SCHEMA
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from pixelnoise.config import SCHEMA_PATH, load_config, schema_defaults


@pytest.mark.parametrize(
    "extra", [[], ["config/msrc21.yaml"], ["config/voc12.yaml"], ["tests/configs/tiny.yaml"]]
)
def test_shipped_configs_validate(extra):
    config = load_config([REPO / p for p in extra])
    validate(config, str(SCHEMA))


def test_defaults_are_filled_in():
    config = {"dataset": {"kind": "voc", "root": "x"}}
    validate(config, str(SCHEMA))
    assert config["seed"] == 0 and config["device"] == "auto"
    assert config["dataset"]["mask_dir"] == "SegmentationClass"


def test_default_config_spells_out_every_schema_default():
    """config/config.yaml (the embedded default) and the schema's defaults agree, key by key
    and value by value; only dataset.kind and dataset.root have no schema default."""
    written = yaml.safe_load((REPO / "config/config.yaml").read_text())
    defaults = schema_defaults()
    assert {k: v for k, v in written["dataset"].items() if k not in defaults["dataset"]} == {
        "kind": "synthetic",
        "root": "results/data/synthetic",
    }

    def differences(default, value, path):
        # split.strong is one value (its schema default is a whole dict): compare it as one.
        if isinstance(default, dict) and isinstance(value, dict) and path != "split.strong":
            keys = set(default) | set(value)
            if path == "dataset":
                keys -= {"kind", "root"}
            return [
                diff
                for key in sorted(keys)
                for diff in differences(
                    default.get(key, "<missing>"),
                    value.get(key, "<missing>"),
                    f"{path}.{key}" if path else key,
                )
            ]
        same = default == value and type(default) is type(value)
        return [] if same else [f"{path}: schema {default!r}, config.yaml {value!r}"]

    assert differences(defaults, written, "") == []
    filled = copy.deepcopy(written)
    validate(filled, str(SCHEMA))
    assert filled == written  # nothing left for validation to fill in


def test_schema_defaults_validate():
    config = schema_defaults()
    config["dataset"].update(kind="synthetic", root="x")
    filled = copy.deepcopy(config)
    validate(filled, str(SCHEMA))
    assert filled == config


def test_schema_defaults_are_a_fresh_copy():
    assert SCHEMA_PATH == SCHEMA
    first = schema_defaults()
    first["correct"]["epochs"] = -1
    first["cam"]["scales"].append(9.0)
    again = schema_defaults()
    assert again["correct"]["epochs"] > 0 and 9.0 not in again["cam"]["scales"]


def test_config_module_does_not_import_torch():
    code = "import sys, pixelnoise.config; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"


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
    config = load_config()
    (config[section] if section else config)[key] = value
    with pytest.raises(WorkflowError) as error:
        validate(config, str(SCHEMA))
    assert named in str(error.value)


def test_strong_set_takes_exactly_one_rule():
    config = load_config()
    config["split"]["strong"] = {"count": 3, "fraction": 0.1}
    with pytest.raises(WorkflowError):
        validate(config, str(SCHEMA))


def test_full_gt_baseline_is_planned_when_enabled(tmp_path):
    from workflow_runner import snakemake

    flag = tmp_path / "full_gt.yaml"
    flag.write_text("segment:\n  full_gt: true\n")
    result = snakemake(tmp_path, "--dry-run", configfiles=("tests/configs/tiny.yaml", str(flag)))
    out = result.stdout + result.stderr
    assert "results/models/segmentation/full_gt/repeat0.pt" in out
    assert "results/segmentation/full_gt/repeat0" in out


def test_init_from_the_clean_model_makes_it_an_input_of_segmentation(tmp_path):
    from workflow_runner import snakemake

    flag = tmp_path / "init.yaml"
    flag.write_text("segment:\n  network:\n    init: clean_model\n")
    result = snakemake(
        tmp_path, "--dry-run", "--forceall",
        "results/models/segmentation/detect_gat_crf/repeat0.pt",
        configfiles=("tests/configs/tiny.yaml", str(flag)),
    )  # fmt: skip
    out = result.stdout + result.stderr
    block = out[out.index("rule train_segmentation:") :].split("\n\n")[0]
    assert "results/models/clean.pt" in block


def test_repeats_train_each_method_with_consecutive_seeds(tmp_path):
    from workflow_runner import snakemake

    flag = tmp_path / "repeats.yaml"
    flag.write_text("segment:\n  repeats: 3\n  methods: [detect_gat_crf]\n")
    result = snakemake(tmp_path, "--dry-run", configfiles=("tests/configs/tiny.yaml", str(flag)))
    out = result.stdout + result.stderr
    for repeat in range(3):
        assert f"results/models/segmentation/detect_gat_crf/repeat{repeat}.pt" in out
        assert f"results/segmentation/detect_gat_crf/repeat{repeat}" in out
    assert "results/segmentation/dc_only/repeat0" in out
    assert "dc_only/repeat1" not in out
    stats = out[out.index("Job stats") :]
    assert re.search(r"train_segmentation\s+3\b", stats)
    assert re.search(r"evaluate_segmentation\s+4\b", stats)
