from pixelnoise.correct_labels import correct_labels
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    correct_labels(
        run_name=smk.wildcards.run,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        graph_dirs=[smk.input.graphs],
        cam_paths=list(smk.input.cams),
        loss_paths=list(smk.input.losses),
        theta_path=smk.input.theta,
        tau_bg=smk.params.tau_bg,
        cfg=smk.params.correct,
        out_dir=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
        seed=smk.params.seed,
        device=smk.config["device"],
    )
