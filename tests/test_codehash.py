"""Code rerun triggers (pixelnoise/codehash.py): what counts as a change, and which modules a
job's hash covers."""

from pathlib import Path

import pytest

from pixelnoise.codehash import CodeIndex, entries_digest, syntax_digest
from pixelnoise.methods import CHECKPOINT, LABEL_MAPS, NODE_PROBABILITIES, REGISTRY

REPO = Path(__file__).resolve().parents[1]

SOURCE = '''"""A module."""

import math


class Box:
    """A box."""

    def area(self, side):
        """Its area."""
        return side * side  # squared


def root(x):
    return math.sqrt(x)
'''


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s + "# a comment at the end\n",
        lambda s: s.replace('"""A box."""', '"""A box, documented at length."""'),
        lambda s: s.replace('    """Its area."""\n', ""),  # a docstring removed
        lambda s: s.replace('"""A module."""\n', ""),
        lambda s: s.replace("side * side  # squared", "(side * side)"),
        lambda s: s.replace("\n\n\nclass", "\n\nclass").replace("def root(x):", "def root( x ):"),
    ],
)
def test_comments_docstrings_and_formatting_are_no_change(edit):
    assert syntax_digest(edit(SOURCE)) == syntax_digest(SOURCE)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.replace("side * side", "side * side * 1"),
        lambda s: s.replace("math.sqrt", "math.cbrt"),
        lambda s: s.replace("def root(x):", "def root(y):").replace("sqrt(x)", "sqrt(y)"),
        lambda s: s + "TABLE = {'a': 1}\n",
        lambda s: s + "'not a docstring: an expression after the first statement'\n",
    ],
)
def test_any_other_edit_is_a_change(edit):
    assert syntax_digest(edit(SOURCE)) != syntax_digest(SOURCE)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A small package: a stage importing a shared module absolutely, relatively and lazily,
    the registry's package with a family declaration that imports an implementation."""
    return write(
        tmp_path,
        {
            "workflow/scripts/stage.py": "from pixelnoise.stage import run\n",
            "pixelnoise/__init__.py": "",
            "pixelnoise/stage.py": (
                "from pixelnoise import shared\nfrom .methods import REGISTRY\n\n"
                "def run():\n    from pixelnoise.sub.lazy import go\n    return go()\n"
            ),
            "pixelnoise/shared.py": "X = 1\n",
            "pixelnoise/sub/__init__.py": "from . import helper\n",
            "pixelnoise/sub/helper.py": "Y = 2\n",
            "pixelnoise/sub/lazy.py": "def go():\n    return 3\n",
            "pixelnoise/unrelated.py": "Z = 4\n",
            "pixelnoise/heavy.py": "W = 5\n",
            "pixelnoise/methods/__init__.py": "from . import family\nREGISTRY = 1\n",
            "pixelnoise/methods/registry.py": "from pixelnoise import shared\n",
            "pixelnoise/methods/family.py": "from pixelnoise.heavy import W\n",
        },
    )


def test_a_job_hashes_what_it_imports_and_not_the_registry_declarations(checkout):
    index = CodeIndex(checkout)
    files = {p.relative_to(checkout).as_posix() for p in index.files(["workflow/scripts/stage.py"])}
    assert files == {
        "workflow/scripts/stage.py",
        "pixelnoise/__init__.py",
        "pixelnoise/stage.py",
        "pixelnoise/shared.py",
        "pixelnoise/sub/__init__.py",  # importing pixelnoise.sub.lazy runs the package
        "pixelnoise/sub/helper.py",  # imported relatively by it
        "pixelnoise/sub/lazy.py",  # a lazy import is code the job runs
        "pixelnoise/methods/__init__.py",  # the registry's assembly, but not family.py or heavy.py
    }
    named = index.files(["workflow/scripts/stage.py"], ["pixelnoise.methods.registry"])
    assert checkout / "pixelnoise/methods/registry.py" in named  # the registry's logic is code


def test_the_digest_changes_with_the_code_a_job_runs_only(checkout, tmp_path):
    def digest():
        return CodeIndex(checkout).code_digest([checkout / "workflow/scripts/stage.py"])

    before = digest()
    for name in ("pixelnoise/unrelated.py", "pixelnoise/heavy.py", "pixelnoise/methods/family.py"):
        with open(checkout / name, "a") as source:
            source.write("EXTRA = 0\n")
        assert digest() == before, name
    with open(checkout / "pixelnoise/sub/lazy.py", "a") as source:
        source.write("# a comment\n")
    assert digest() == before
    with open(checkout / "pixelnoise/sub/lazy.py", "a") as source:
        source.write("EXTRA = 0\n")
    assert digest() != before


def test_a_module_the_registry_names_must_exist(checkout):
    with pytest.raises(ValueError, match="pixelnoise.nowhere"):
        CodeIndex(checkout).code_digest([], ["pixelnoise.nowhere"])


def test_entries_digest_follows_every_field_in_any_order():
    cam, detect = REGISTRY.get("cam", LABEL_MAPS), REGISTRY.get("detect", LABEL_MAPS)
    assert entries_digest([cam, detect]) == entries_digest([detect, cam])
    assert entries_digest([cam]) != entries_digest([detect])
    keep = REGISTRY.get("detect_gat_keep", LABEL_MAPS)
    plain = REGISTRY.get("detect_gat", LABEL_MAPS)
    assert keep.options != plain.options
    assert entries_digest([keep]) != entries_digest([plain])


def relative(files) -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in files}


def job_files(script: str, name: str | None = None, produces: str | None = None) -> set[str]:
    lineage = REGISTRY.lineage(name, produces) if name else []
    modules = [module for m in lineage for module in (m.module, *m.uses)]
    return relative(CodeIndex(REPO).files([REPO / "workflow/scripts" / script], modules))


def test_the_repository_jobs_cover_their_own_code_only():
    # The review: every network's hash covered MLLC's code, and the dataset generator
    # reached the CRF through the registry's declarations.
    assert "pixelnoise/crf.py" not in job_files("generate_dataset.py")
    assert "pixelnoise/crf.py" not in job_files("train_classifier.py")
    assert "pixelnoise/crf.py" not in job_files("score_pixels.py")  # no CRF in loss maps
    assert "pixelnoise/crf.py" not in job_files("build_graphs.py")
    assert "pixelnoise/detect.py" not in job_files("train_classifier.py")  # θ is read in run_data
    network = job_files("train_segmentation.py", "cam", CHECKPOINT)
    assert {"pixelnoise/mllc.py", "pixelnoise/training/mllc.py"}.isdisjoint(network)
    assert "pixelnoise/training/segmentation.py" in network
    mllc = job_files("train_segmentation.py", "mllc", CHECKPOINT)
    assert {"pixelnoise/mllc.py", "pixelnoise/training/mllc.py"} <= mllc
    correction = job_files("correct_labels.py", "detect_gat", NODE_PROBABILITIES)
    assert {"pixelnoise/gnn/layers.py", "pixelnoise/correction.py"} <= correction
    assert {"pixelnoise/wsgcn.py", "pixelnoise/crf.py", "pixelnoise/partial_labels.py"}.isdisjoint(
        correction
    )  # WSGCN's seeds (with the CRF) supervise WSGCN's runs only: the registry's `uses`
    wsgcn = job_files("correct_labels.py", "wsgcn", NODE_PROBABILITIES)
    assert {"pixelnoise/wsgcn.py", "pixelnoise/partial_labels.py", "pixelnoise/crf.py"} <= wsgcn
    crf_labels = job_files("pseudo_labels.py", "detect_gat_crf", LABEL_MAPS)
    assert {"pixelnoise/crf.py", "pixelnoise/corrected_labels.py"} <= crf_labels
    assert "pixelnoise/crf.py" not in job_files("pseudo_labels.py", "cam", LABEL_MAPS)


def test_every_module_the_registry_names_exists():
    index = CodeIndex(REPO)
    for method in REGISTRY:
        assert index.files([], [method.module, *method.uses]), method.key
