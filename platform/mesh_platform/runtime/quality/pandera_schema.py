"""The contract as a pandera schema, for domain engineers who test Python products on DataFrames.

It expresses the row-level constraints a pandas frame can check on its own (required, unique,
ranges, lengths, patterns, enumerations). Publishing does not use it: the platform evaluates the
same rules as one DuckDB scan, which `benchmarks/checks_vs_write.py` shows is much faster.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow

from mesh_platform.model.contracts.model import Column, Contract
from mesh_platform.model.rules import FORMATS


def _bound(column: Column, value):
    if arrow.types.is_date(column.arrow_type):
        return dt.date.fromisoformat(str(value))
    if arrow.types.is_timestamp(column.arrow_type):
        stamp = pd.Timestamp(str(value))
        return stamp.tz_localize("UTC") if column.arrow_type.tz and stamp.tzinfo is None else stamp
    return value


def _checks(column: Column) -> list[pa.Check]:
    options = column.options
    checks = []
    if "minimum" in options:
        checks.append(pa.Check.ge(_bound(column, options["minimum"])))
    if "exclusiveMinimum" in options:
        checks.append(pa.Check.gt(_bound(column, options["exclusiveMinimum"])))
    if "maximum" in options:
        checks.append(pa.Check.le(_bound(column, options["maximum"])))
    if "exclusiveMaximum" in options:
        checks.append(pa.Check.lt(_bound(column, options["exclusiveMaximum"])))
    if "minLength" in options or "maxLength" in options:
        checks.append(pa.Check.str_length(options.get("minLength"), options.get("maxLength")))
    if "pattern" in options:
        checks.append(pa.Check.str_matches(f"^(?:{options['pattern']})$"))
    if options.get("format") in FORMATS and column.logical_type == "string":
        checks.append(pa.Check.str_matches(f"^(?:{FORMATS[options['format']]})$"))
    if column.enum:
        checks.append(pa.Check.isin(list(column.enum)))
    return checks


def pandera_schema(contract: Contract) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            c.name: pa.Column(nullable=not c.required, unique=c.unique, checks=_checks(c), required=True)
            for c in contract.columns
        },
        name=contract.table,
        strict=True,  # a column the contract does not declare is an error, as when publishing
    )
