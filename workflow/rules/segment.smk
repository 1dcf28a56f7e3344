# The final segmentation network (Yi et al. Sec. III-D) and its evaluation on val.
# dc_only is the clean model (trained on D_c alone); full_gt reads weak masks (an upper bound,
# flagged reads_weak_masks in the table); evaluate_segmentation reads val masks.


rule train_segmentation:
    input:
        dataset_inputs(),
        manifest=MANIFEST,
        labels=segmentation_label_dirs,
        init=segmentation_init,
    output:
        model="results/models/segmentation/{method}/repeat{repeat}.pt",
        history="results/models/segmentation/{method}/repeat{repeat}_log.csv",
    wildcard_constraints:
        method="|".join(SEGMENT_TRAINED),
    params:
        dataset=DATASET,
        network=config["segment"]["network"],
        settings=method_settings(CHECKPOINT, "method"),
        seed=repeat_seed,
        data=data_reads("images:strong+weak;masks:strong", weak_masks=(CHECKPOINT, "method")),
        code=method_code("train_segmentation.py", CHECKPOINT, "method"),
    threads: workflow.cores
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/train_segmentation/{method}/repeat{repeat}.log",
    benchmark:
        "results/benchmarks/train_segmentation/{method}/repeat{repeat}.tsv"
    script:
        "../scripts/train_segmentation.py"


rule evaluate_segmentation:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        checkpoint=segmentation_checkpoint,
    output:
        directory("results/segmentation/{method}/repeat{repeat}"),
    wildcard_constraints:
        method="|".join(SEGMENT_EVALUATED),
    params:
        dataset=DATASET,
        evaluation=config["segment"]["evaluation"],
        seed=repeat_seed,  # the trained network's seed, recorded in its row
        crf=config["crf"] if config["segment"]["evaluation"]["crf"] else None,
        data=data_reads("images:val;masks:val"),
        code=method_code("evaluate_segmentation.py", CHECKPOINT, "method"),
    threads: workflow.cores
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/evaluate_segmentation/{method}/repeat{repeat}.log",
    benchmark:
        "results/benchmarks/evaluate_segmentation/{method}/repeat{repeat}.tsv"
    script:
        "../scripts/evaluate_segmentation.py"


rule gather_segmentation_metrics:
    input:
        SEGMENT_RESULTS,
    output:
        table=report("results/metrics/segmentation.csv", category="Segmentation"),
        repeats="results/metrics/segmentation_repeats.csv",
    params:
        code=package_code("gather_segmentation_metrics.py"),
    conda:
        CONDA_ENV
    log:
        "logs/gather_segmentation_metrics.log",
    benchmark:
        "results/benchmarks/gather_segmentation_metrics.tsv"
    script:
        "../scripts/gather_segmentation_metrics.py"
