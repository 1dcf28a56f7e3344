from pixelnoise.stages.correct_labels import correct_labels
from pixelnoise.workflow import method_artifacts, rule_context, rule_tau_bg

with rule_context(snakemake) as smk:
    correct_labels(
        run_name=smk.wildcards.run,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        artifacts=method_artifacts(smk.input),
        tau_bg=rule_tau_bg(smk),
        cfg=smk.params.correct,
        settings=smk.params.settings,
        out_dir=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
        seed=smk.params.seed,
        device=smk.config["device"],
    )
