# Shared values and input functions. Parameters reach rules through `params:` so that
# Snakemake's rerun triggers see them; device and paths of logs do not (they change no result).

DATASET = config["dataset"]
# For `--software-deployment-method conda`; `make install` sets up the same stack in .venv.
CONDA_ENV = "../../envs/pixelnoise.yaml"
SHARDS = list(range(config["shards"]))
# Methods whose pseudo labels are scored on the weak set, one row each in the table.
PSEUDO_LABEL_METHODS = ["cam"]


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


def per_shard_threads():
    return max(1, workflow.cores // len(SHARDS))
