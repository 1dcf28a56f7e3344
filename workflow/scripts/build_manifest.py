from pixelnoise.data.manifest import build_manifest, write_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    dataset_cfg = smk.params.dataset
    manifest = build_manifest(
        VocDataset.from_config(dataset_cfg),
        train_split=dataset_cfg["train_split"],
        val_split=dataset_cfg["val_split"],
        strong=smk.params.split["strong"],
        seed=smk.params.split["seed"],
    )
    write_manifest(manifest, smk.output[0])
