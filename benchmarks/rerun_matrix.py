"""Jobs and CPU-seconds each edit of the edit matrix replans on a finished run.

For every edit of pixelnoise/replan.py (a comment in every module, a real change to each listed
module, one config key per section, and for a VOC-style dataset a val, D_c and weak mask, a weak
image and the labels CSV edited in place), a dry run against ``--run``; the CPU-seconds are
what the replanned jobs took when the run computed them (its ``results/benchmarks/`` files).

Nothing of the run is changed: code edits go to a copy of ``--repository`` (modification times
kept, so the copy plans nothing by itself) and config edits are extra config files. Data edits
only with ``--data-edits``: dataset files get a newer modification time and the labels CSV a
trailing blank line, each restored exactly (bytes and times) after its dry run; do not use it
on a dataset another process reads at the same time.
Reads the ``--repository``'s own triggers, so an older checkout measures the old ones:

    python benchmarks/rerun_matrix.py --run /work/runs/msrc21 --configfile config/msrc21.yaml
    python benchmarks/rerun_matrix.py --run old-run --repository /path/to/old/checkout

Prints a Markdown table: edit, jobs replanned (of the run's total), CPU-seconds (of the total).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pixelnoise.config import load_config
from pixelnoise.data.fingerprints import DatasetFingerprints
from pixelnoise.replan import copy_repository, cpu_seconds, dry_run, edit_plans

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run's directory")
    parser.add_argument(
        "--repository",
        type=Path,
        default=REPO,
        help="the checkout whose Snakefile made the run (default: this one)",
    )
    parser.add_argument(
        "--configfile",
        action="append",
        default=[],
        type=Path,
        help="the run's config files, as given to snakemake",
    )
    parser.add_argument(
        "--data-edits",
        action="store_true",
        help="also edit the VOC-style dataset's files in place (restored exactly)",
    )
    parser.add_argument(
        "--kinds", default="code,config,data", help="which edits (comma-separated; default all)"
    )
    args = parser.parse_args()
    run = args.run.resolve()
    configfiles = [c.resolve() for c in args.configfile]
    config = load_config(configfiles)
    data = None
    if args.data_edits and config["dataset"]["kind"] == "voc":
        root = Path(config["dataset"]["root"])
        dataset = {**config["dataset"], "root": str(root if root.is_absolute() else run / root)}
        data = DatasetFingerprints(dataset, config["split"], config["shards"])
    with tempfile.TemporaryDirectory() as scratch:
        repository = copy_repository(args.repository, Path(scratch) / "repository")
        snakefile = repository / "Snakefile"
        unchanged = dry_run(snakefile, run, configfiles)
        if unchanged:
            raise SystemExit(
                f"{run} is not finished for this checkout: it plans {len(unchanged)} "
                "jobs before any edit (run it, or --touch it after an upgrade)"
            )
        everything = dry_run(snakefile, run, configfiles, ["--forceall"])
        total_cpu = cpu_seconds(run, everything)
        print(f"| edit | jobs (of {len(everything)}) | CPU-s (of {total_cpu:.0f}) |")
        print("|---|---|---|")
        kinds = args.kinds.split(",")
        for edit, planned in edit_plans(repository, run, configfiles, Path(scratch), data, kinds):
            print(f"| {edit} | {len(planned)} | {cpu_seconds(run, planned):.0f} |", flush=True)


if __name__ == "__main__":
    main()
