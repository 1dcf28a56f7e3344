"""Running the Snakemake workflow from tests, in a temporary working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(
    workdir: Path, *args: str, configfiles=("tests/configs/tiny.yaml",), check=True, timeout=900
) -> subprocess.CompletedProcess:
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",  # last: it takes every following word
        *(str(REPO / c) for c in configfiles),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-6000:]}"
        )
    return result
