from pixelnoise.data.synthetic import generate_dataset
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    settings = dict(smk.params.synthetic)
    settings["size_range"] = tuple(settings["size_range"])
    generate_dataset(smk.output[0], **settings)
