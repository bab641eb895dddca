"""The lab format: what an instructor writes, read and checked before anything starts.

Owns the model (model.py, model_parts.py, services.py, and the check kinds'
declarations in check_kinds/), YAML reading with line numbers (yaml_reader.py),
the loader and its meaning pass (loader.py, references.py, facts.py,
suggestions.py), where a lab argument's file is (files.py), the published JSON
Schema (schema.py), the plain-data blueprint of a validated lab and the plans
made from it (blueprint.py, plan.py), the scaffold for `labctl new`, and the
ports labctl's own probes use (probe_ports.py). Pure: no I/O but reading lab
files, no engine. May import only labctl.errors and labctl.paths.
"""
