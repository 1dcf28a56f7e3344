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
