from pixelnoise.stages.score_pixels import score_pixels
from pixelnoise.workflow import rule_context, rule_tau_bg

with rule_context(snakemake) as smk:
    score_pixels(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(smk.input.cams),
        checkpoint_path=smk.input.model,
        tau_bg=rule_tau_bg(smk),
        out_path=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
        device=smk.config["device"],
    )
