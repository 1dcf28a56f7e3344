from pixelnoise.stages.evaluate_segmentation import evaluate_segmentation
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    evaluate_segmentation(
        method=smk.wildcards.method,
        checkpoint=smk.input.checkpoint,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        evaluation=smk.params.evaluation,
        crf=smk.params.crf,
        out_dir=smk.output[0],
        device=smk.config["device"],
        repeat=int(smk.wildcards.repeat),
        seed=smk.params.seed,
    )
