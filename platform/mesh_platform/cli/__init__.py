"""The `mesh` command line: the top layer, built on orchestration, runtime and model."""
