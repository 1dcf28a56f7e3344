if DATASET["kind"] == "synthetic":

    rule generate_dataset:
        output:
            directory(DATASET["root"]),
        params:
            synthetic=DATASET["synthetic"],
            code=package_code("generate_dataset.py"),
        conda:
            CONDA_ENV
        log:
            "logs/generate_dataset.log",
        benchmark:
            "results/benchmarks/generate_dataset.tsv"
        script:
            "../scripts/generate_dataset.py"


rule build_manifest:
    input:
        dataset_inputs(),
    output:
        "results/data/manifest.csv",
    params:
        dataset=DATASET,
        split=config["split"],
        content=manifest_content,  # image sizes; masks are read by the stages that use them
        code=package_code("build_manifest.py"),
    conda:
        CONDA_ENV
    log:
        "logs/build_manifest.log",
    benchmark:
        "results/benchmarks/build_manifest.tsv"
    script:
        "../scripts/build_manifest.py"
