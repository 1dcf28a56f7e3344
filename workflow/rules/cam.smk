rule train_classifier:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
    output:
        model="results/models/classifier.pt",
        history="results/models/classifier_log.csv",
    params:
        dataset=DATASET,
        classifier=config["classifier"],
        config_key="classifier",
        seed=config["seed"],
        data=data_reads("images:strong+weak"),
        code=package_code("train_classifier.py"),
    threads: half_the_cores()  # beside train_clean_model: small nets scale poorly over threads
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/train_classifier.log",
    benchmark:
        "results/benchmarks/train_classifier.tsv"
    script:
        "../scripts/train_classifier.py"


rule export_cams:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        model="results/models/classifier.pt",
    output:
        directory("results/cams/shard{shard}.zarr"),
    params:
        dataset=DATASET,
        # Only what changes the maps: tau_bg is applied later, when labels are read.
        scales=config["cam"]["scales"],
        flip=config["cam"]["flip"],
        shards=config["shards"],
        data=data_reads("images:strong+weak"),  # of the shard
        code=package_code("export_cams.py"),
    threads: per_shard_threads()
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/export_cams/shard{shard}.log",
    benchmark:
        "results/benchmarks/export_cams/shard{shard}.tsv"
    script:
        "../scripts/export_cams.py"


rule choose_tau_bg:
    # `cam.tau_bg: auto`: τ_bg chosen on D_c's CAMs and masks (pixelnoise/tau_bg.py states the
    # rule); reads no weak or val mask. The weak-set sweep (cam_threshold_sweep) only evaluates.
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        cams=CAM_STORES,
    output:
        choice=tau_bg.CHOICE_PATH,
        curve=tau_bg.CURVE_PATH,
    params:
        dataset=DATASET,
        sweep=config["cam"]["tau_bg_sweep"],
        data=data_reads("masks:strong"),
        code=package_code("choose_tau_bg.py"),
    conda:
        CONDA_ENV
    log:
        "logs/choose_tau_bg.log",
    benchmark:
        "results/benchmarks/choose_tau_bg.tsv"
    script:
        "../scripts/choose_tau_bg.py"


# Fan et al.'s multiple estimates: a second classifier of another architecture, and the CAMs of
# both classifiers at each scale kept apart, by the same stages with other settings. Built only
# when a listed method consumes them.


rule train_second_classifier:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
    output:
        model="results/models/second_classifier.pt",
        history="results/models/second_classifier_log.csv",
    params:
        dataset=DATASET,
        classifier=config["second_classifier"],
        config_key="second_classifier",
        seed=config["seed"],
        data=data_reads("images:strong+weak"),
        code=package_code("train_classifier.py"),
    threads: workflow.cores
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/train_second_classifier.log",
    benchmark:
        "results/benchmarks/train_second_classifier.tsv"
    script:
        "../scripts/train_classifier.py"


rule export_scale_cams:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        model=lambda wildcards: CLASSIFIER_CHECKPOINTS[wildcards.classifier],
    output:
        directory("results/cams_by_scale/{classifier}/{tag}/shard{shard}.zarr"),
    params:
        scales=lambda wildcards: [CAM_SCALES[wildcards.tag]],
        flip=config["cam"]["flip"],
        dataset=DATASET,
        shards=config["shards"],
        data=data_reads("images:strong+weak"),  # of the shard
        code=package_code("export_cams.py"),
    threads: per_shard_threads()
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/export_scale_cams/{classifier}/{tag}/shard{shard}.log",
    benchmark:
        "results/benchmarks/export_scale_cams/{classifier}/{tag}/shard{shard}.tsv"
    script:
        "../scripts/export_cams.py"
