from pixelnoise.stages.export_scale_cams import export_scale_cams
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    export_scale_cams(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        checkpoint_path=smk.input.model,
        cfg={"scales": smk.params.scales, "flip": smk.params.flip},
        out_path=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
        device=smk.config["device"],
    )
