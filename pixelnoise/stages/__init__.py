"""One module per Snakemake rule, named after it: read the rule's artifacts, call the concept
modules of the package, write the outputs atomically.

Concept modules (data, models, CAM, detection, graphs, GNN, CRF, metrics, training, losses,
methods) never import a stage; ``tests/test_import_graph.py`` checks it. A new method family
puts its concepts next to the others and, if it needs a rule of its own, one stage module here
(see ``docs/adding-a-method.md``).
"""
