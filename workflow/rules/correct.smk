# Label correction (Yi et al. Sec. III-C): superpixel graphs, GNN correction, CRF, and the
# pseudo labels of every method. What each correction run and pseudo-label method reads is
# declared once, in the method registry (pixelnoise/methods); oracle runs read weak masks.


rule build_graphs:
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        model="results/models/clean.pt",
    output:
        directory("results/graphs/shard{shard}"),
    params:
        dataset=DATASET,
        graph=config["graph"],
        kind="superpixel",
        shards=config["shards"],
        data=data_reads("images:weak"),  # of the shard
        code=package_code("build_graphs.py"),
    threads: per_shard_threads()
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/build_graphs/shard{shard}.log",
    benchmark:
        "results/benchmarks/build_graphs/shard{shard}.tsv"
    script:
        "../scripts/build_graphs.py"


rule build_grid_graphs:
    # WSGCN's second graph kind: a pixel grid at a stride, with window edges.
    input:
        dataset_inputs(),
        manifest="results/data/manifest.csv",
        model="results/models/clean.pt",
    output:
        directory("results/grid_graphs/shard{shard}"),
    params:
        dataset=DATASET,
        graph=config["grid_graph"],
        kind="grid",
        shards=config["shards"],
        data=data_reads("images:weak"),  # of the shard
        code=package_code("build_graphs.py"),
    threads: per_shard_threads()
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/build_grid_graphs/shard{shard}.log",
    benchmark:
        "results/benchmarks/build_grid_graphs/shard{shard}.tsv"
    script:
        "../scripts/build_graphs.py"


rule correct_labels:
    # Inputs and code trigger as the run's registry entry declares (pixelnoise/methods).
    input:
        unpack(method_inputs(NODE_PROBABILITIES, "run")),
        tau_bg=TAU_BG_CHOICE,
    output:
        directory("results/corrected/{run}/shard{shard}"),
    params:
        dataset=DATASET,
        tau_bg=TAU_BG,
        correct=config["correct"],
        settings=method_settings(NODE_PROBABILITIES, "run"),
        seed=config["seed"],
        shards=config["shards"],
        data=data_reads("images:weak", weak_masks=(NODE_PROBABILITIES, "run")),
        code=method_code("correct_labels.py", NODE_PROBABILITIES, "run"),
    threads: 1  # the four runs fill the cores in parallel; one OpenMP team each avoids spinning
    resources:
        gpu=1,
    conda:
        CONDA_ENV
    log:
        "logs/correct_labels/{run}/shard{shard}.log",
    benchmark:
        "results/benchmarks/correct_labels/{run}/shard{shard}.tsv"
    script:
        "../scripts/correct_labels.py"


rule pseudo_labels:
    input:
        unpack(method_inputs(LABEL_MAPS, "method")),
        tau_bg=TAU_BG_CHOICE,
    output:
        directory("results/pseudo_labels/{method}/shard{shard}"),
    params:
        dataset=DATASET,
        tau_bg=TAU_BG,
        crf=method_crf,
        settings=method_settings(LABEL_MAPS, "method"),
        shards=config["shards"],
        data=data_reads("images:weak", weak_masks=(LABEL_MAPS, "method")),
        code=method_code("pseudo_labels.py", LABEL_MAPS, "method"),
    threads: 1  # label maps and the dense CRF run on one core: methods fill the cores in parallel
    conda:
        CONDA_ENV
    log:
        "logs/pseudo_labels/{method}/shard{shard}.log",
    benchmark:
        "results/benchmarks/pseudo_labels/{method}/shard{shard}.tsv"
    script:
        "../scripts/pseudo_labels.py"
