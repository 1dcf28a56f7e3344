# Label-noise detection (Yi et al. Sec. III-B): the clean model, per-pixel losses, theta.


rule train_clean_model:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        init=clean_model_init,
    output:
        model="results/models/clean.pt",
        history="results/models/clean_log.csv",
    params:
        dataset=DATASET,
        clean_model=config["clean_model"],
        seed=config["seed"],
        data=data_reads("images:strong;masks:strong"),
        code=package_code("train_clean_model.py"),
    threads: half_the_cores()  # runs beside train_classifier
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/train_clean_model.log",
    benchmark:
        "results/benchmarks/train_clean_model.tsv"
    script:
        "../scripts/train_clean_model.py"


rule score_pixels:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        model="results/models/clean.pt",
        cams=CAM_STORES,
        tau_bg=TAU_BG_CHOICE,
    output:
        directory("results/detect/losses/shard{shard}.zarr"),
    params:
        dataset=DATASET,
        tau_bg=TAU_BG,
        shards=config["shards"],
        data=data_reads("images:strong+weak"),  # of the shard
        code=package_code("score_pixels.py"),
    threads: per_shard_threads()
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/score_pixels/shard{shard}.log",
    benchmark:
        "results/benchmarks/score_pixels/shard{shard}.tsv"
    script:
        "../scripts/score_pixels.py"


rule select_theta:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        cams=CAM_STORES,
        losses=LOSS_STORES,
        tau_bg=TAU_BG_CHOICE,
    output:
        theta="results/detect/theta.json",
        curve="results/detect/theta_curve.csv",
        plot=report("results/detect/theta_curve.png", category="Detection"),
    params:
        dataset=DATASET,
        tau_bg=TAU_BG,
        detect=config["detect"],
        data=data_reads("masks:strong"),
        code=package_code("select_theta.py"),
    conda:
        CONDA_ENV
    log:
        "logs/select_theta.log",
    benchmark:
        "results/benchmarks/select_theta.tsv"
    script:
        "../scripts/select_theta.py"
