from pixelnoise.stages.gather_segmentation_metrics import gather_segmentation_rows
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    gather_segmentation_rows(list(smk.input), smk.output.table, smk.output.repeats)
