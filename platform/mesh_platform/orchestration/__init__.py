"""The orchestration layer: Dagster definitions, assets, the IO manager, the dbt integration and
automation, built on the runtime and the model."""
