from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """One finished run of the tiny config, shared by every test that inspects or reruns it.

    Tests that change files must work on a copy (``copy_run``), never on this directory.
    """
    from workflow_runner import snakemake

    workdir = tmp_path_factory.mktemp("run")
    snakemake(workdir)
    return workdir
