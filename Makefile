# The README's two commands: `make run` and `make test`. Both create .venv and install the
# pinned stack first (once; reinstalled when the requirement files change).
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin

.PHONY: install run test lint clean

$(VENV)/.installed: envs/requirements.txt envs/constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -r envs/requirements.txt -c envs/constraints.txt
	$(BIN)/pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

# Two workers, each test file on one: the SLURM test, which mostly waits on the queue, overlaps
# with the rest, and module fixtures (a sharded run, a cluster) are built once.
test: install
	$(BIN)/python -m pytest -n $(CORES) --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs .snakemake
