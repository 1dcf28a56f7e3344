from pixelnoise.stages.train_second_classifier import train_second_classifier
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    train_second_classifier(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cfg=smk.params.classifier,
        checkpoint_path=smk.output.model,
        log_path=smk.output.history,
        seed=smk.params.seed,
        device=smk.config["device"],
    )
