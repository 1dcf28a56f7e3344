# Evaluation rules. Masks of weak images are read only here (cam_threshold_sweep,
# evaluate_pseudo_labels, qualitative_figure) and, by design, by the upper bounds the method
# registry flags reads_weak_masks: correction runs with the oracle source (oracle_gat and the
# methods made from it) and the segmentation method full_gt. evaluate_segmentation (segment.smk)
# reads val masks.


rule cam_threshold_sweep:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        cams=CAM_STORES,
    output:
        "results/metrics/cam_tau_sweep.csv",
    params:
        dataset=DATASET,
        sweep=config["cam"]["tau_bg_sweep"],
        data=data_reads("masks:weak"),
        code=package_code("cam_threshold_sweep.py"),
    conda:
        CONDA_ENV
    log:
        "logs/cam_threshold_sweep.log",
    benchmark:
        "results/benchmarks/cam_threshold_sweep.tsv"
    script:
        "../scripts/cam_threshold_sweep.py"


rule evaluate_pseudo_labels:
    # One job for all methods: each weak mask is read once, and a job start-up costs more
    # than scoring one method.
    input:
        unpack(pseudo_label_dirs),
        dataset_inputs(),
        manifest="results/data/manifest.csv",
    output:
        report("results/metrics/pseudo_labels.csv", category="Pseudo labels"),
    params:
        dataset=DATASET,
        methods=METHODS,
        data=data_reads("masks:weak"),
        code=package_code("evaluate_pseudo_labels.py"),
    conda:
        CONDA_ENV
    log:
        "logs/evaluate_pseudo_labels.log",
    benchmark:
        "results/benchmarks/evaluate_pseudo_labels.tsv"
    script:
        "../scripts/evaluate_pseudo_labels.py"


rule qualitative_figure:
    input:
        dataset_inputs(),
        unpack(figure_inputs),
    output:
        report("results/figures/qualitative.png", category="Qualitative"),
    params:
        dataset=DATASET,
        stages=FIGURE_STAGES,
        images=SEGMENT["figure_images"],
        seed=config["seed"],
        data=data_reads("images:weak;masks:weak"),
        code=package_code("qualitative_figure.py"),
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/qualitative_figure.log",
    benchmark:
        "results/benchmarks/qualitative_figure.tsv"
    script:
        "../scripts/qualitative_figure.py"


rule report:
    input:
        manifest="results/data/manifest.csv",
        pseudo_labels="results/metrics/pseudo_labels.csv",
        segmentation="results/metrics/segmentation.csv",
        figure="results/figures/qualitative.png",
        sweep="results/metrics/cam_tau_sweep.csv",
        classifier_history="results/models/classifier_log.csv",
        clean_history="results/models/clean_log.csv",
        theta="results/detect/theta.json",
        theta_curve="results/detect/theta_curve.csv",
        tau_bg=TAU_BG_CHOICE,  # with `cam.tau_bg: auto`, the choice on D_c and its curve
        tau_bg_curve=TAU_BG_CURVE,
    output:
        report=report("results/report.md", category="Summary"),
        # Every benchmark file of the run so far (the report's own lands after it finishes).
        benchmarks=report("results/metrics/benchmarks.csv", category="Time and memory"),
    params:
        config=config,  # the report states the configuration
        skipped=SKIPPED,  # upper bounds left out for lack of weak masks
        code=package_code("report.py"),
    conda:
        CONDA_ENV
    log:
        "logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    script:
        "../scripts/report.py"
