from pixelnoise.stages.pseudo_labels import write_pseudo_labels
from pixelnoise.workflow import method_artifacts, rule_context, rule_tau_bg

with rule_context(snakemake) as smk:
    write_pseudo_labels(
        method=smk.wildcards.method,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        artifacts=method_artifacts(smk.input),
        params={
            "tau_bg": rule_tau_bg(smk),
            "crf": smk.params.crf,
            "settings": smk.params.settings,
        },
        out_dir=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
    )
