"""pixelnoise: CAM pseudo-labels treated as noisy labels, detected and corrected on graphs.

The package holds all logic; the Snakemake workflow in ``workflow/`` only wires stages together.
"""

__version__ = "0.1.0"
