from pixelnoise.evaluate_pseudo_labels import evaluate_method
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    evaluate_method(
        method=smk.wildcards.method,
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        label_dirs=list(smk.input.labels),
        out=smk.output[0],
    )
