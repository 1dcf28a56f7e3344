from pixelnoise.stages.cam_threshold_sweep import cam_threshold_sweep
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    cam_threshold_sweep(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(smk.input.cams),
        sweep=smk.params.sweep,
        out=smk.output[0],
    )
