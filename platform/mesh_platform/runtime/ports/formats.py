"""The shapes a consumer may ask for: pandas (the default), Arrow, or a DuckDB relation."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from mesh_platform.model.errors import PublishError
from mesh_platform.model.redaction import without_values


def to_arrow(obj: Any, label: str) -> pa.Table | pa.RecordBatchReader:
    """Accept what a product function may return and hand the port Arrow data."""
    if isinstance(obj, (pa.Table, pa.RecordBatchReader)):
        return obj
    if isinstance(obj, pd.DataFrame):
        try:
            return pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            # Arrow names the value of a mixed column it could not convert: keep it out of the run history.
            reason = without_values("; ".join(str(part) for part in exc.args))
            raise PublishError(f"{label}: its DataFrame cannot be turned into a table: {reason}") from None
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
