"""Masking personal columns of an Arrow table: a keyed hash, or redaction.

The keyed hash (HMAC-SHA256 under the mesh's masking key) keeps values joinable and countable —
the same e-mail gives the same token in every product — without revealing them; without the key
a token cannot be reversed by hashing guesses. Redaction replaces values with nulls.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

TOKEN_CHARS = 32  # 128 bits of the HMAC: collisions are out of reach for any port's size


def keyed_hash(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_CHARS]


def _hash_column(column: pa.ChunkedArray, key: bytes) -> pa.ChunkedArray:
    text = column if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) else pc.cast(column, pa.string())
    encoded = pc.dictionary_encode(text).combine_chunks() if len(text) else pa.array([], pa.dictionary(pa.int32(), pa.string()))
    # Each distinct value is hashed once, however often it occurs.
    tokens = pa.array([keyed_hash(v, key) for v in encoded.dictionary.to_pylist()], pa.string())
    return pa.chunked_array([pc.take(tokens, encoded.indices)], pa.string())


def masked_field(field: pa.Field, method: str) -> pa.Field:
    """What a column becomes once masked: a token is text, a redacted value keeps its type; either
    may be null (a redacted required column is null everywhere)."""
    return pa.field(field.name, pa.string() if method == "hash" else field.type, nullable=True)


def masked_schema(schema: pa.Schema, masks: dict[str, str]) -> pa.Schema:
    """`schema` as `mask_table` leaves it: the schema of a masked projection's port."""
    return pa.schema([masked_field(f, masks[f.name]) if f.name in masks else f for f in schema], metadata=schema.metadata)


def mask_table(table: pa.Table, masks: dict[str, str], key: bytes) -> pa.Table:
    """`table` with each column named in `masks` hashed or redacted."""
    for name, method in masks.items():
        index = table.schema.get_field_index(name)
        if index < 0:
            continue
        column, field = table.column(index), masked_field(table.schema.field(index), method)
        if method == "hash":
            masked = _hash_column(column, key)
        else:
            masked = pa.chunked_array([pa.nulls(len(column), column.type)], column.type)
        table = table.set_column(index, field, masked)
    return table
