from pixelnoise.stages.choose_tau_bg import choose_tau_bg
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    choose_tau_bg(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(smk.input.cams),
        sweep=smk.params.sweep,
        out_json=smk.output.choice,
        out_csv=smk.output.curve,
    )
