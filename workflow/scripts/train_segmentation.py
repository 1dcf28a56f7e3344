from pixelnoise.stages.train_segmentation import train_final_segmentation
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    train_final_segmentation(
        method=smk.wildcards.method,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        label_dirs=list(smk.input.labels),
        cfg=smk.params.network,
        checkpoint_path=smk.output.model,
        log_path=smk.output.history,
        seed=smk.params.seed,
        device=smk.config["device"],
        init_checkpoint=smk.input.init[0] if smk.input.init else None,
        settings=smk.params.settings,
    )
