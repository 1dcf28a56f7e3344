from pixelnoise.stages.train_classifier import train_classifier
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    train_classifier(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cfg=smk.params.classifier,
        config_key=smk.params.config_key,
        checkpoint_path=smk.output.model,
        log_path=smk.output.history,
        seed=smk.params.seed,
        device=smk.config["device"],
    )
