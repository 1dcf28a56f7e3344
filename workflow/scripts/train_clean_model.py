from pixelnoise.stages.train_clean_model import train_clean_model
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    train_clean_model(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cfg=smk.params.clean_model,
        checkpoint_path=smk.output.model,
        log_path=smk.output.history,
        seed=smk.params.seed,
        device=smk.config["device"],
        init_checkpoint=smk.input.init[0] if smk.input.init else None,
    )
