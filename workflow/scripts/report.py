from pixelnoise.stages.report import write_report
from pixelnoise.workflow import rule_context

with rule_context(snakemake) as smk:
    write_report(
        out_path=smk.output.report,
        benchmarks_path=smk.output.benchmarks,
        inputs=dict(smk.input.items()),
        config=smk.config,
        skipped=smk.params.skipped,
        workflow_dir=smk.scriptdir + "/../..",
    )
