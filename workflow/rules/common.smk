# Shared values and input functions. Parameters reach rules through `params:` so that
# Snakemake's rerun triggers see them; device and paths of logs do not (they change no result).
# `params: code=...` does the same for the package's source and `params: data=...` for the
# dataset's files (see "Rerun triggers" below).

from functools import cache

from pixelnoise import tau_bg
from pixelnoise.codehash import CodeIndex, entries_digest
from pixelnoise.methods import (
    CHECKPOINT,
    DC_ONLY,
    FULL_GT,
    LABEL_MAPS,
    NODE_PROBABILITIES,
    REGISTRY,
)
from pixelnoise.methods.registry import CAM_CLASSIFIERS, CAM_SCALES, input_name
from pixelnoise.methods.upper_bounds import leave_out_weak_mask_readers, missing_train_masks

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
# Upper bounds that read weak masks (oracles, full_gt) run only if every weak image has a mask;
# on real weak data they are left out and the report says so (masks are only stat-ed here).
WEAK_MASKS_MISSING = missing_train_masks(DATASET)
METHODS, SKIPPED_METHODS = leave_out_weak_mask_readers(
    REGISTRY, METHODS, LABEL_MAPS, WEAK_MASKS_MISSING
)
# Correction runs: every run of the registry (only those a listed method consumes are built).
CORRECTION_RUNS = REGISTRY.names(NODE_PROBABILITIES)
CAM_STORES = expand("results/cams/shard{shard}.zarr", shard=SHARDS)
# Fan et al.: each classifier's CAMs at each scale, kept apart (cams_<classifier>_<tag>).
CLASSIFIER_CHECKPOINTS = {
    "main": "results/models/classifier.pt",
    "second": "results/models/second_classifier.pt",
}
# `cam.tau_bg: auto` (the default): choose_tau_bg picks τ_bg on D_c's masks and every job that
# applies τ_bg reads its choice as an input (a new choice reruns them); a fixed value is a param.
# Without a background class τ_bg is unused: None, no choice, no trigger.
TAU_BG = config["cam"]["tau_bg"] if tau_bg.used(DATASET) else None
TAU_BG_CHOICE = [tau_bg.CHOICE_PATH] if TAU_BG == tau_bg.AUTO else []
TAU_BG_CURVE = [tau_bg.CURVE_PATH] if TAU_BG == tau_bg.AUTO else []
LOSS_STORES = expand("results/detect/losses/shard{shard}.zarr", shard=SHARDS)
# Segmentation networks: one per method of `segment.methods` (+ full_gt, an upper bound that
# reads weak masks); dc_only is the clean model, evaluated as the D_c baseline.
SEGMENT = config["segment"]
SEGMENT_TRAINED = SEGMENT["methods"] + ([FULL_GT] if SEGMENT["full_gt"] else [])
SEGMENT_TRAINED = [REGISTRY.get(m, CHECKPOINT).name for m in SEGMENT_TRAINED]
SEGMENT_TRAINED, SKIPPED_SEGMENT = leave_out_weak_mask_readers(
    REGISTRY, SEGMENT_TRAINED, CHECKPOINT, WEAK_MASKS_MISSING
)
SKIPPED = {"reason": WEAK_MASKS_MISSING, "methods": SKIPPED_METHODS,
           "segment.methods": SKIPPED_SEGMENT}  # fmt: skip
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
    return full if full in SEGMENT_TRAINED else (SEGMENT_TRAINED or [DC_ONLY])[0]


def figure_inputs(wildcards=None):
    inputs = {"manifest": MANIFEST}
    inputs.update({method: method_label_dirs(method) for method in FIGURE_STAGES})
    inputs["checkpoint"] = segmentation_checkpoint_of(figure_network(), 0)
    return inputs


# Rerun triggers. Snakemake's `code` trigger sees only the thin script in workflow/scripts/; the
# logic lives in the package. A rule's `code` param hashes its script, the modules the method
# registry names for the job's method and the methods it is made from, the package modules they
# import (transitively), and those registry entries, each module by its syntax tree without
# docstrings (pixelnoise/codehash.py): a comment is no change, and editing e.g. pixelnoise/mllc.py
# reruns MLLC's jobs only. A rule's `data` param fingerprints the dataset files it reads, by role
# and shard (pixelnoise/data/fingerprints.py): a fixed val mask reruns the evaluations only.
CODE = CodeIndex(workflow.basedir)


@cache
def package_code(script, *modules):
    """A hash of workflow/scripts/``script``, the package ``modules`` named and what they import."""
    return CODE.code_digest([os.path.join(workflow.basedir, "workflow/scripts", script)], modules)


def method_code(script, produces, wildcard):
    """A rerun trigger: the code of the rule's script and of the method's lineage (its module
    and its upstream methods' modules), and the lineage's registry entries."""

    def code(wildcards):
        lineage = REGISTRY.lineage(getattr(wildcards, wildcard), produces)
        modules = [module for m in lineage for module in (m.module, *m.uses)]
        return f"{package_code(script, *modules)}-{entries_digest(lineage)}"

    return code


FINGERPRINTS = None
if DATASET["kind"] == "voc":  # synthetic data is a workflow output, tracked by Snakemake itself
    from pixelnoise.data.fingerprints import DatasetFingerprints

    FINGERPRINTS = DatasetFingerprints(DATASET, config["split"], config["shards"])


def data_reads(spec, weak_masks=None):
    """A rerun trigger: fingerprints of the dataset files a job reads, as ``spec`` names them
    (``"images:strong+weak;masks:strong"``, of the job's shard if it has one). With
    ``weak_masks=(produces, wildcard)``, the weak masks too if the registry flags the job's
    method as reading them (upper bounds only)."""

    def data(wildcards):
        if FINGERPRINTS is None:
            return ""
        reads = spec
        if weak_masks is not None:
            method = REGISTRY.get(getattr(wildcards, weak_masks[1]), weak_masks[0])
            if method.reads_weak_masks or "weak_masks" in method.consumes:
                reads += ";masks:weak"
        shard = int(wildcards.shard) if hasattr(wildcards, "shard") else None
        return FINGERPRINTS.reads(reads, shard)

    return data


def manifest_content(wildcards):
    """The manifest's rerun trigger besides its inputs: every image's size (its header). A
    function, so that it is read when the manifest's job is planned, not at every parse."""
    return FINGERPRINTS.manifest() if FINGERPRINTS is not None else ""


def half_the_cores():
    """Threads of each of the two independent trainings (classifier, clean model), so that
    they run side by side: on a few cores that beats running them one after the other."""
    return max(1, workflow.cores // 2)
