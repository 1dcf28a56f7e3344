from pixelnoise.stages.qualitative_figure import qualitative_figure
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    qualitative_figure(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        label_dirs={stage: list(smk.input[stage]) for stage in smk.params.stages},
        checkpoint=smk.input.checkpoint,
        out_path=smk.output[0],
        count=smk.params.images,
        seed=smk.params.seed,
        device=smk.config["device"],
    )
