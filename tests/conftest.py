import os
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def shared_run_dir(tmp_path_factory, name: str) -> Path:
    """A folder every pytest-xdist worker of this session sees (one session: the base temp).

    Under xdist each worker has its own base temp below one shared parent; a fixture that
    builds an expensive run there once, under a lock, spares the other workers the rebuild.
    """
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """One finished run of the tiny config, shared by every test that inspects or reruns it,
    and built once however many xdist workers ask for it.

    Tests that change files must work on a copy (``copy_run``), never on this directory.
    """
    from workflow_runner import snakemake

    workdir = shared_run_dir(tmp_path_factory, "finished-run")
    done = workdir.with_name("finished-run.done")
    with FileLock(f"{workdir}.lock"):
        if not done.exists():
            snakemake(workdir)
            done.touch()
    return workdir
