"""The model layer: pure descriptions of the mesh — names, errors, YAML, descriptors, contracts,
rules as data, policies and the mesh graph. It imports nothing from the layers above it, and no
engine (no Dagster, DuckDB or deltalake)."""
