"""FarmTrust's vocabularies, each written once: species, metrics, lending terms, organisations, devices, crops.

Pure Python (stdlib only), importable in an edge-only install. Every other package, the API schemas and
the database CHECK constraints (see ``tests/vocabulary``) take their allowed values from here, so adding
a species, a metric or a schedule kind touches one module here and the code that uses the new value.
"""

__all__: list[str] = []
