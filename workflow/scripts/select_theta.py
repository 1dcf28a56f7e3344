from pixelnoise.stages.select_theta import select_theta
from pixelnoise.workflow import rule_context, rule_tau_bg

with rule_context(snakemake) as smk:
    select_theta(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(smk.input.cams),
        loss_paths=list(smk.input.losses),
        tau_bg=rule_tau_bg(smk),
        cfg=smk.params.detect,
        out_json=smk.output.theta,
        out_csv=smk.output.curve,
        out_png=smk.output.plot,
    )
