from pixelnoise.stages.build_manifest import build_manifest
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    build_manifest(
        dataset_cfg=smk.params.dataset, split_cfg=smk.params.split, out_path=smk.output[0]
    )
