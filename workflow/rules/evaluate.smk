# Evaluation rules are the only ones allowed to read masks of weak images.


rule evaluate_cams:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        cams=expand("results/cams/shard{shard}.zarr", shard=SHARDS),
    output:
        metrics="results/metrics/pseudo_labels/cam.csv",
        sweep="results/metrics/cam_tau_sweep.csv",
    params:
        dataset=DATASET,
        tau_bg=config["cam"]["tau_bg"],
        sweep=config["cam"]["tau_bg_sweep"],
    conda:
        CONDA_ENV
    log:
        "logs/evaluate_cams.log",
    benchmark:
        "results/benchmarks/evaluate_cams.tsv"
    script:
        "../scripts/evaluate_cams.py"


rule gather_pseudo_label_metrics:
    input:
        expand("results/metrics/pseudo_labels/{method}.csv", method=PSEUDO_LABEL_METHODS),
    output:
        "results/metrics/pseudo_labels.csv",
    conda:
        CONDA_ENV
    log:
        "logs/gather_pseudo_label_metrics.log",
    benchmark:
        "results/benchmarks/gather_pseudo_label_metrics.tsv"
    script:
        "../scripts/gather_pseudo_label_metrics.py"


rule report:
    input:
        manifest="results/data/manifest.csv",
        pseudo_labels="results/metrics/pseudo_labels.csv",
        sweep="results/metrics/cam_tau_sweep.csv",
        classifier_history="results/models/classifier_log.csv",
    output:
        "results/report.md",
    conda:
        CONDA_ENV
    log:
        "logs/report.log",
    script:
        "../scripts/write_report.py"
