from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def merged_config(*paths: Path) -> dict:
    """Config files merged key by key, as Snakemake merges --configfile over config.yaml."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in (REPO / "config/config.yaml", *paths):
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


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
