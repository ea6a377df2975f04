"""The shapes a consumer may ask for: pandas (the default), Arrow, or a DuckDB relation."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa


def to_arrow(obj: Any, label: str) -> pa.Table | pa.RecordBatchReader:
    """Accept what a product function may return and hand the port Arrow data."""
    if isinstance(obj, (pa.Table, pa.RecordBatchReader)):
        return obj
    if isinstance(obj, pd.DataFrame):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if isinstance(obj, duckdb.DuckDBPyRelation):
        return obj.to_arrow_table()
    raise TypeError(
        f"{label} returned {type(obj).__name__}; a product returns a pandas DataFrame, "
        "a pyarrow Table or RecordBatchReader, or a DuckDB relation"
    )


def from_arrow(table: pa.Table, wanted: Any) -> Any:
    """Convert a port's Arrow data into the type the consumer annotated its input with."""
    if wanted is pa.Table:
        return table
    if wanted is duckdb.DuckDBPyRelation:
        # The relation keeps its own connection alive; the table is scanned without a copy.
        return duckdb.connect().from_arrow(table)
    return table.to_pandas()
