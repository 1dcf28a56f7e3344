"""The table of tuned settings (pixelnoise/provenance.py) against the schema's descriptions,
the config files and docs/benchmarks.md, and the report's reading of it."""

import pytest
import yaml
from conftest import REPO, SCHEMA

from pixelnoise import provenance
from pixelnoise.config import load_config
from pixelnoise.methods import LABEL_MAPS, REGISTRY
from pixelnoise.provenance import (
    MARKER,
    THIS_RUN,
    TUNED,
    WEAK,
    run_settings,
    schema_phrase,
    tuned_on_scored_images,
    value_at,
)

BEGIN, END = "<!-- tuned settings: begin -->", "<!-- tuned settings: end -->"


def descriptions(node, path=()):
    """Every schema property's description, by dotted key (anchors resolved by YAML)."""
    for name, child in (node.get("properties") or {}).items():
        key = (*path, name)
        if isinstance(child, dict):
            if "description" in child:
                yield ".".join(key), " ".join(str(child["description"]).split())
            yield from descriptions(child, key)


@pytest.fixture(scope="module")
def schema_text():
    return dict(descriptions(yaml.safe_load(SCHEMA.read_text())))


def test_every_tuned_key_states_its_provenance_in_the_schema(schema_text):
    for key in provenance.keys():
        assert key in schema_text, f"{key}: no description in the schema"
        assert schema_phrase(key) in schema_text[key], f"{key}: say '{schema_phrase(key)}'"


def test_every_key_the_schema_calls_chosen_is_in_the_table(schema_text):
    stated = {key for key, text in schema_text.items() if MARKER in text}
    # The second classifier is trained like the first (the schema shares its properties).
    assert stated - {"second_classifier.crop_size"} == set(provenance.keys())


@pytest.mark.parametrize("entry", [t for t in TUNED if t.config], ids=str)
def test_each_value_is_the_one_its_config_file_sets(entry):
    extra = [] if entry.config == provenance.DEFAULT_CONFIG else [REPO / entry.config]
    assert value_at(load_config(extra), entry.key) == entry.value


def test_the_docs_hold_the_table():
    docs = (REPO / "docs/benchmarks.md").read_text()
    assert BEGIN in docs and END in docs
    found = docs[docs.index(BEGIN) + len(BEGIN) : docs.index(END)].strip()
    assert found == provenance.markdown_table(), "regenerate: python tests/test_provenance.py"


def test_a_run_names_each_setting_and_a_value_of_its_own():
    config = load_config()
    settings = {s["key"]: s for s in run_settings(config)}
    assert settings["cam.tau_bg"]["chosen_on"] == provenance.DC_AUTO
    assert settings["wsgcn.entropy_over"]["chosen_on"] == WEAK
    config["wsgcn"]["entropy_over"] = "sum"
    config["cam"]["tau_bg"] = 0.3
    settings = {s["key"]: s for s in run_settings(config)}
    assert settings["wsgcn.entropy_over"]["chosen_on"] == THIS_RUN
    assert settings["cam.tau_bg"]["chosen_on"] == WEAK  # the former default, still named
    defaults = load_config()
    settings = {s["key"]: s for s in run_settings(defaults, defaults)}
    assert settings["segment.network.epochs"]["chosen_on"] == provenance.NOT_TUNED  # 30: MSRC


def test_tuned_on_scored_images_follows_the_family_of_each_weak_key():
    def settings(**chosen):
        return [{"key": k, "value": 0, "chosen_on": c, "evidence": "", "families": f}
                for k, (c, f) in chosen.items()]  # fmt: skip

    wsgcn_only = settings(a=(WEAK, "wsgcn"), b=(provenance.PAPER, "all"))
    assert tuned_on_scored_images("wsgcn", wsgcn_only)
    assert not tuned_on_scored_images("yi", wsgcn_only)
    assert tuned_on_scored_images("yi", settings(c=(WEAK, "all")))
    assert not tuned_on_scored_images("yi", settings(c=(provenance.DC_AUTO, "all")))


def test_families_are_the_registry_s():
    families = {REGISTRY.get(m, LABEL_MAPS).family for m in REGISTRY.names(LABEL_MAPS)}
    families |= {"mllc", provenance.ALL}
    assert {f for t in TUNED for f in t.families} <= families


if __name__ == "__main__":
    print(f"{BEGIN}\n{provenance.markdown_table()}\n{END}")
