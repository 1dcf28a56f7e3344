"""pixelnoise: CAM pseudo-labels treated as noisy labels, detected and corrected on graphs.

The package holds all logic; the Snakemake workflow in ``workflow/`` only wires stages together.
"""

import os

# MKL's matrix products (ATen's CPU convolutions) take kernels by thread count on AVX-512
# processors, so a one-shard and a three-shard run would differ in the last bits. Strict
# conditional numerical reproducibility makes them thread-count independent; MKL reads this at
# its first call, which comes after any import of this package. A user's own setting wins.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
