from pixelnoise.stages.evaluate_pseudo_labels import evaluate_methods
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    evaluate_methods(
        label_dirs={method: list(smk.input[method]) for method in smk.params.methods},
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        out=smk.output[0],
    )
