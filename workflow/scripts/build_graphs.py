from pixelnoise.stages.build_graphs import build_graphs
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    build_graphs(
        manifest_path=smk.input.manifest,
        dataset_cfg=smk.params.dataset,
        checkpoint_path=smk.input.model,
        cfg=smk.params.graph,
        out_dir=smk.output[0],
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
        device=smk.config["device"],
        kind=smk.params.kind,
    )
