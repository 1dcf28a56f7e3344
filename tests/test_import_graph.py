"""Stages apart from concepts: concept modules never import a stage module (not even lazily,
inside a function), and the registry never names a stage as a method's implementation."""

import ast
import re
from pathlib import Path

import pytest

from pixelnoise.methods import REGISTRY

PACKAGE = Path(__file__).resolve().parents[1] / "pixelnoise"
# Entry points that may call stages: the command line and the Snakemake glue.
ENTRY_POINTS = {"__main__", "workflow"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


CONCEPTS = sorted(
    path
    for path in PACKAGE.rglob("*.py")
    if "stages" not in path.relative_to(PACKAGE).parts and path.stem not in ENTRY_POINTS
)


def test_the_package_has_stages_and_concepts():
    stages = {p.stem for p in (PACKAGE / "stages").glob("*.py")} - {"__init__"}
    assert {"pseudo_labels", "correct_labels", "train_segmentation", "report"} <= stages
    assert len(CONCEPTS) > 20


@pytest.mark.parametrize("path", CONCEPTS, ids=module_name)
def test_concept_module_imports_no_stage(path):
    stages = sorted(n for n in imported_names(path) if n.startswith("pixelnoise.stages"))
    assert not stages, f"{module_name(path)} imports stage modules {stages}"


def test_method_implementations_are_concepts():
    for method in REGISTRY:
        assert not method.module.startswith("pixelnoise.stages"), method.key


def test_every_rule_script_has_its_stage_module(repo):
    """Each rule's thin script is named after the stage module it calls; rules that run the
    same stage with other settings (e.g. the second classifier) share its script."""
    scripts = set()
    for smk in (repo / "workflow/rules").glob("*.smk"):
        scripts.update(re.findall(r'"\.\./scripts/(\w+)\.py"', smk.read_text()))
    stages = {p.stem for p in (PACKAGE / "stages").glob("*.py")}
    assert len(scripts) > 10, "no rule scripts found"
    assert scripts <= stages, scripts - stages
    for script in scripts:
        text = (repo / "workflow/scripts" / f"{script}.py").read_text()
        assert f"from pixelnoise.stages.{script} import" in text, script
