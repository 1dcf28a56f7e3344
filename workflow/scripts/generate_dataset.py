from pixelnoise.stages.generate_dataset import generate_dataset
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    generate_dataset(out_dir=smk.output[0], settings=smk.params.synthetic)
