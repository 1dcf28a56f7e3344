from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.evaluate_segmentation import evaluate_checkpoint
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    evaluation = smk.params.evaluation
    evaluate_checkpoint(
        checkpoint=smk.input.checkpoint,
        dataset=VocDataset.from_config(smk.params.dataset),
        ids=ids_with_role(read_manifest(smk.input.manifest), "val"),
        split=smk.params.dataset["val_split"],
        out_dir=smk.output[0],
        method=smk.wildcards.method,
        scales=evaluation["scales"],
        flip=evaluation["flip"],
        crf=smk.params.crf,
        device=smk.config["device"],
    )
