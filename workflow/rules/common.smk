# Shared values and input functions. Parameters reach rules through `params:` so that
# Snakemake's rerun triggers see them; device and paths of logs do not (they change no result).
# `params: code=package_code("<script>")` does the same for the package's source (see below).

import ast
import hashlib
from functools import cache
from pathlib import Path

from pixelnoise.methods import (
    CHECKPOINT,
    DC_ONLY,
    FULL_GT,
    LABEL_MAPS,
    NODE_PROBABILITIES,
    REGISTRY,
)
from pixelnoise.methods.registry import CAM_CLASSIFIERS, CAM_SCALES, input_name

DATASET = config["dataset"]
if DATASET["kind"] == "voc" and not os.path.isdir(DATASET["root"]):
    raise ValueError(
        f"dataset.root: {os.path.abspath(DATASET['root'])} is not a folder; set dataset.root in "
        "your config file (relative paths start from the working directory)"
    )
# For `--software-deployment-method conda`; `make install` sets up the same stack in .venv.
CONDA_ENV = "../../envs/pixelnoise.yaml"
SHARDS = list(range(config["shards"]))
MANIFEST = "results/data/manifest.csv"
# Methods whose pseudo labels are scored on the weak set, one row each in the table. Every
# name is looked up in the method registry (pixelnoise/methods): an unknown one stops here.
METHODS = [REGISTRY.get(m, LABEL_MAPS).name for m in config["methods"]]
# Correction runs: every run of the registry (only those a listed method consumes are built).
CORRECTION_RUNS = REGISTRY.names(NODE_PROBABILITIES)
CAM_STORES = expand("results/cams/shard{shard}.zarr", shard=SHARDS)
# Fan et al.: each classifier's CAMs at each scale, kept apart (cams_<classifier>_<tag>).
CLASSIFIER_CHECKPOINTS = {
    "main": "results/models/classifier.pt",
    "second": "results/models/second_classifier.pt",
}
LOSS_STORES = expand("results/detect/losses/shard{shard}.zarr", shard=SHARDS)
# Segmentation networks: one per method of `segment.methods` (+ full_gt, an upper bound that
# reads weak masks); dc_only is the clean model, evaluated as the D_c baseline.
SEGMENT = config["segment"]
SEGMENT_TRAINED = SEGMENT["methods"] + ([FULL_GT] if SEGMENT["full_gt"] else [])
SEGMENT_TRAINED = [REGISTRY.get(m, CHECKPOINT).name for m in SEGMENT_TRAINED]
SEGMENT_EVALUATED = [DC_ONLY, *SEGMENT_TRAINED]
# Repeats of each trained network (seed + repeat); dc_only, the clean model, exists once.
REPEATS = list(range(SEGMENT["repeats"]))
SEGMENT_RESULTS = [f"results/segmentation/{DC_ONLY}/repeat0"] + expand(
    "results/segmentation/{method}/repeat{repeat}", method=SEGMENT_TRAINED, repeat=REPEATS
)
# Columns of the qualitative grid: listed methods with a figure title in the registry.
FIGURE_STAGES = REGISTRY.figure_methods(METHODS)


wildcard_constraints:
    shard=r"\d+",
    repeat=r"\d+",
    classifier="|".join(CAM_CLASSIFIERS),
    tag="|".join(CAM_SCALES),
    run="|".join(CORRECTION_RUNS),
    method=r"[a-z0-9_]+",


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


def dataset_content():
    """Size and modification time of every image and mask of a VOC-style dataset, hashed: a
    rerun trigger of the manifest, so that an image or mask edited in place reruns everything
    that reads the dataset. (Masks are only stat-ed here, never read.)"""
    if DATASET["kind"] == "synthetic":  # a workflow output: tracked by Snakemake itself
        return ""
    digest = hashlib.sha256()
    for folder in (DATASET["image_dir"], DATASET["mask_dir"]):
        base = os.path.join(DATASET["root"], folder)
        entries = sorted(os.scandir(base), key=lambda e: e.name) if os.path.isdir(base) else []
        for entry in entries:
            stat = entry.stat()
            digest.update(f"{folder}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def method_label_dirs(method):
    """The shard directories of one method's pseudo labels."""
    return expand("results/pseudo_labels/{method}/shard{shard}", method=method, shard=SHARDS)


def artifact_paths(key, wildcards):
    """Where the artifact ``key`` (a registry name) lives, for a job with these wildcards.
    Masks are part of the dataset inputs; per-shard artifacts follow the job's shard."""
    produces, _, name = key.partition(":")
    if name:
        if produces == NODE_PROBABILITIES:
            return [f"results/corrected/{name}/shard{wildcards.shard}"]
        if produces == LABEL_MAPS:
            return method_label_dirs(name)
        if produces == CHECKPOINT:
            return [segmentation_checkpoint_of(name, 0)]
    paths = {
        "cams": CAM_STORES,
        "losses": LOSS_STORES,
        "theta": ["results/detect/theta.json"],
        "clean_model": ["results/models/clean.pt"],
        "strong_masks": [],
        "weak_masks": [],
    }
    if key in ("graphs", "grid_graphs"):
        return [f"results/{key}/shard{wildcards.shard}"]
    if key.startswith("cams_"):  # cams_<classifier>_<tag>: one classifier at one scale
        _, classifier, tag = key.split("_")
        return expand(
            "results/cams_by_scale/{classifier}/{tag}/shard{shard}.zarr",
            classifier=classifier,
            tag=tag,
            shard=SHARDS,
        )
    return paths[key]


def method_inputs(produces, wildcard):
    """An input function: the dataset, the manifest and every artifact the method named by
    ``wildcard`` consumes, as the registry declares them."""

    def inputs(wildcards):
        method = REGISTRY.get(getattr(wildcards, wildcard), produces)
        found = {"dataset": dataset_inputs(), "manifest": MANIFEST}
        for key in method.consumes:
            paths = artifact_paths(key, wildcards)
            if paths:
                found[input_name(key)] = paths
        return found

    return inputs


def method_code(script, produces, wildcard):
    """A rerun trigger: the code of the rule's script and of the method's own module."""

    def code(wildcards):
        method = REGISTRY.get(getattr(wildcards, wildcard), produces)
        return package_code(script, method.module)

    return code


def method_crf(wildcards):
    """The CRF settings for a pseudo-label method the registry declares with a CRF, or None:
    the `crf` section, or the method family's own (`<settings>.crf`, e.g. wsgcn.crf)."""
    method = REGISTRY.get(wildcards.method, LABEL_MAPS)
    if not method.crf:
        return None
    section = method.options.get("settings")
    return config[section]["crf"] if section else config["crf"]


def method_settings(produces, wildcard):
    """A param: the config section of the method's family (registry `options["settings"]`, e.g.
    `wsgcn`), or {} for families configured elsewhere: editing it reruns that family only."""

    def settings(wildcards):
        section = REGISTRY.get(getattr(wildcards, wildcard), produces).options.get("settings")
        return config[section] if section else {}

    return settings


def per_shard_threads():
    return max(1, workflow.cores // len(SHARDS))


def pseudo_label_dirs(wildcards=None):
    """Every scored method's pseudo-label directories, keyed by method."""
    return {method: method_label_dirs(method) for method in METHODS}


def segmentation_label_dirs(wildcards):
    """The label maps a segmentation method trains on, as the registry declares them (none for
    methods that train on masks)."""
    method = REGISTRY.get(wildcards.method, CHECKPOINT)
    return [path for key in method.upstream() for path in artifact_paths(key, wildcards)]


INIT_CHECKPOINTS = {
    None: [],
    "clean_model": ["results/models/clean.pt"],
    "classifier": ["results/models/classifier.pt"],
}


def segmentation_init(wildcards):
    """The checkpoint a segmentation network starts from: the method's own (registry
    `options["init"]`, e.g. MLLC's clean model), else `segment.network.init`, if any."""
    method = REGISTRY.get(wildcards.method, CHECKPOINT)
    return INIT_CHECKPOINTS[method.options.get("init", SEGMENT["network"]["init"])]


def clean_model_init(wildcards):
    """The checkpoint the clean model's backbone starts from (`clean_model.init`), if any."""
    return INIT_CHECKPOINTS[config["clean_model"]["init"]]


def segmentation_checkpoint_of(name, repeat):
    if REGISTRY.get(name, CHECKPOINT).stage == "train_clean_model":
        return "results/models/clean.pt"
    return f"results/models/segmentation/{name}/repeat{repeat}.pt"


def segmentation_checkpoint(wildcards):
    return segmentation_checkpoint_of(wildcards.method, wildcards.repeat)


def repeat_seed(wildcards):
    """Repeat k of a segmentation method trains with seed + k (repeat 0: the run's seed)."""
    return config["seed"] + int(wildcards.repeat)


def figure_network():
    """The network whose predictions the qualitative grid shows: the full method if trained."""
    full = "detect_gat_crf"
    return full if full in SEGMENT_TRAINED else SEGMENT["methods"][0]


def figure_inputs(wildcards=None):
    inputs = {"manifest": MANIFEST}
    inputs.update({method: method_label_dirs(method) for method in FIGURE_STAGES})
    inputs["checkpoint"] = segmentation_checkpoint_of(figure_network(), 0)
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
def package_code(script, *modules):
    """A hash of workflow/scripts/``script``, the package ``modules`` named (a method's module,
    which its stage imports by name) and every package module they (transitively) import."""
    named = {module: _module_file(module) for module in modules}
    missing = [module for module, path in named.items() if path is None]
    if missing:
        raise ValueError(f"the method registry names modules that do not exist: {missing}")
    todo = [REPOSITORY / "workflow/scripts" / script, *named.values()]
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
    """Threads of a job that runs beside another of its kind (the classifier beside the clean
    model, segmentation networks and their evaluations two at a time): small networks scale
    poorly over threads, so on a few cores two half-width jobs beat one after the other."""
    return max(1, workflow.cores // 2)
