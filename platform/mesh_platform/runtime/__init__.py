"""The runtime layer: what touches data — settings, port stores, compute engines, rule audits,
masking, governed reads and SQL sessions. It builds on the model and knows nothing of Dagster."""
