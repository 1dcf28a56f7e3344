from pixelnoise.evaluate_pseudo_labels import evaluate_cams
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    evaluate_cams(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(smk.input.cams),
        tau_bg=smk.params.tau_bg,
        sweep=smk.params.sweep,
        out_metrics=smk.output.metrics,
        out_sweep=smk.output.sweep,
    )
