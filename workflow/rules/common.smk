# Shared values and input functions. Parameters reach rules through `params:` so that
# Snakemake's rerun triggers see them; device and paths of logs do not (they change no result).

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


def segmentation_label_dirs(wildcards):
    """Pseudo labels a segmentation network trains on (full_gt reads the masks instead)."""
    if wildcards.method == "full_gt":
        return []
    return expand("results/pseudo_labels/{method}/shard{shard}", method=wildcards.method, shard=SHARDS)


def segmentation_checkpoint(wildcards):
    if wildcards.method == "dc_only":
        return "results/models/clean.pt"
    return f"results/models/segmentation/{wildcards.method}.pt"


def figure_inputs(wildcards=None):
    inputs = {"manifest": "results/data/manifest.csv"}
    inputs.update({m: expand("results/pseudo_labels/{m}/shard{s}", m=m, s=SHARDS) for m in FIGURE_STAGES})
    inputs["checkpoint"] = f"results/models/segmentation/{SEGMENT['methods'][0]}.pt"
    return inputs
