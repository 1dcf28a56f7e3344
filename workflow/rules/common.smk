# Shared values and input functions. Parameters reach rules through `params:` so that
# Snakemake's rerun triggers see them; device and paths of logs do not (they change no result).
# `params: code=package_code("<script>")` does the same for the package's source (see below).

import ast
import hashlib
from functools import cache
from pathlib import Path

DATASET = config["dataset"]
# For `--software-deployment-method conda`; `make install` sets up the same stack in .venv.
CONDA_ENV = "../../envs/pixelnoise.yaml"
SHARDS = list(range(config["shards"]))
# Methods whose pseudo labels are scored on the weak set, one row each in the table.
METHODS = config["methods"]
CORRECTION_RUNS = ["detect_gat", "detect_gcn", "camseeds_gat", "oracle_gat"]
CAM_STORES = expand("results/cams/shard{shard}.zarr", shard=SHARDS)
# Segmentation networks: trained on each listed method's pseudo labels (+ full_gt, an upper
# bound that reads weak masks); dc_only is the clean model, evaluated as the D_c baseline.
SEGMENT = config["segment"]
SEGMENT_TRAINED = SEGMENT["methods"] + (["full_gt"] if SEGMENT["full_gt"] else [])
SEGMENT_EVALUATED = ["dc_only", *SEGMENT_TRAINED]
# Stages drawn in the qualitative grid, where the run produces them (pixelnoise/figures.py).
FIGURE_STAGES = [m for m in ("cam", "detect", "detect_gat", "detect_gat_crf") if m in METHODS]
LOSS_STORES = expand("results/detect/losses/shard{shard}.zarr", shard=SHARDS)


wildcard_constraints:
    shard=r"\d+",
    run="|".join(CORRECTION_RUNS),
    method=r"[a-z_]+",


def dataset_inputs(wildcards=None):
    """Files whose change must rerun everything that reads the dataset."""
    if DATASET["kind"] == "synthetic":
        return [DATASET["root"]]
    root = DATASET["root"]
    splits = [DATASET["train_split"], DATASET["val_split"]]
    files = [os.path.join(root, "ImageSets/Segmentation", f"{split}.txt") for split in splits]
    if DATASET["labels_source"] == "csv":
        files.append(os.path.join(root, DATASET["labels_file"]))
    return files


def pseudo_label_inputs(wildcards):
    """What a method's pseudo labels are made from (see pixelnoise/pseudo_labels.py)."""
    inputs = {"dataset": dataset_inputs(), "manifest": "results/data/manifest.csv"}
    inputs["cams"] = CAM_STORES
    method = wildcards.method
    if method == "detect":
        inputs.update(losses=LOSS_STORES, theta="results/detect/theta.json")
    elif method != "cam":
        run = method.removesuffix("_crf")
        inputs["graphs"] = f"results/graphs/shard{wildcards.shard}"
        inputs["corrected"] = f"results/corrected/{run}/shard{wildcards.shard}"
    return inputs


def per_shard_threads():
    return max(1, workflow.cores // len(SHARDS))


def method_label_dirs(method):
    """The shard directories of one method's pseudo labels."""
    return expand("results/pseudo_labels/{method}/shard{shard}", method=method, shard=SHARDS)


def pseudo_label_dirs(wildcards=None):
    """Every scored method's pseudo-label directories, keyed by method."""
    return {method: method_label_dirs(method) for method in METHODS}


def segmentation_label_dirs(wildcards):
    """Pseudo labels a segmentation network trains on (full_gt reads the masks instead)."""
    if wildcards.method == "full_gt":
        return []
    return method_label_dirs(wildcards.method)


def segmentation_checkpoint(wildcards):
    if wildcards.method == "dc_only":
        return "results/models/clean.pt"
    return f"results/models/segmentation/{wildcards.method}.pt"


def figure_inputs(wildcards=None):
    inputs = {"manifest": "results/data/manifest.csv"}
    inputs.update({method: method_label_dirs(method) for method in FIGURE_STAGES})
    inputs["checkpoint"] = f"results/models/segmentation/{SEGMENT['methods'][0]}.pt"
    return inputs


# Snakemake's `code` trigger sees only the thin script in workflow/scripts/; the logic lives in
# the package. A rule's `code` param is a hash of its script and of every package module the
# script imports, directly or through other modules, so editing e.g. pixelnoise/gnn/train.py
# reruns correct_labels and what follows, and nothing upstream. Parsed once per file (ms).
PACKAGE = "pixelnoise"
REPOSITORY = Path(workflow.basedir).resolve()


def _module_file(name):
    """The source file of module ``name`` of the package in this repository, or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = REPOSITORY.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@cache
def _imported_files(path):
    """Package files that ``path`` imports (anywhere in it), with their parent packages."""
    own = path.relative_to(REPOSITORY).with_suffix("").parts
    names = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:  # relative: from the package of `path`
                name = ".".join([*own[: -node.level], *([name] if name else [])])
            names.add(name)
            names.update(f"{name}.{alias.name}" for alias in node.names)  # submodules
    files = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
            found = _module_file(".".join(parts[:end]))
            if found is not None:
                files.add(found)
    return frozenset(files)


@cache
def package_code(script):
    """A hash of workflow/scripts/``script`` and the package modules it (transitively) imports."""
    todo = [REPOSITORY / "workflow/scripts" / script]
    seen = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_imported_files(path))
    digest = hashlib.sha256()
    for path in sorted(seen):
        digest.update(path.relative_to(REPOSITORY).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def half_the_cores():
    """Threads of each of the two independent trainings (classifier, clean model), so that
    they run side by side: on a few cores that beats running them one after the other."""
    return max(1, workflow.cores // 2)
