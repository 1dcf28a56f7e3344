from pixelnoise.pseudo_labels import write_pseudo_labels
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    inputs = smk.input
    write_pseudo_labels(
        method=smk.wildcards.method,
        manifest_path=inputs.manifest,
        dataset_cfg=smk.params.dataset,
        cam_paths=list(inputs.cams),
        tau_bg=smk.params.tau_bg,
        out_dir=smk.output[0],
        loss_paths=list(inputs.get("losses", [])),
        theta_path=inputs.get("theta"),
        graph_dirs=[inputs.graphs] if "graphs" in inputs.keys() else [],
        corrected_dirs=[inputs.corrected] if "corrected" in inputs.keys() else [],
        crf_cfg=smk.params.crf,
        shard=int(smk.wildcards.shard),
        shards=smk.params.shards,
    )
