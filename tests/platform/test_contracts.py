"""A port's contract is parsed with the official ODCS model and gives the port's exact schema."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.contracts.types import arrow_type_for
from mesh_platform.model.errors import ContractError

HEADER = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:sample
version: 1.2.0
status: active
"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "sample.odcs.yaml"
    path.write_text(header + textwrap.dedent(body))
    return path


def test_columns_map_to_an_explicit_arrow_schema(tmp_path):
    path = write(tmp_path, """
        schema:
          - name: sample
            properties:
              - {name: id, logicalType: integer, physicalType: BIGINT, primaryKey: true}
              - {name: amount, logicalType: number, physicalType: "DECIMAL(10,3)"}
              - {name: seen_at, logicalType: timestamp, physicalType: TIMESTAMPTZ}
              - {name: local_time, logicalType: timestamp, physicalType: TIMESTAMP}
              - {name: day, logicalType: date}
              - {name: label, logicalType: string, required: true}
    """)
    contract = parse_contract(path)
    assert contract.version == "1.2.0"
    assert contract.arrow_schema() == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("amount", pa.decimal128(10, 3)),
            pa.field("seen_at", pa.timestamp("us", tz="UTC")),
            pa.field("local_time", pa.timestamp("us")),
            pa.field("day", pa.date32()),
            pa.field("label", pa.string(), nullable=False),
        ]
    )


@pytest.mark.parametrize(
    ("header", "body", "field", "expected"),
    [
        (HEADER.replace("version: 1.2.0\n", ""), "schema: []", "version", "required ODCS field is missing"),
        (HEADER.replace("DataContract", "Contract"), "schema: []", "kind", "expected 'DataContract'"),
        (HEADER, "schema:\n  - name: s\n    properties:\n      - {name: a, logicalType: text}\n",
         "schema[0].properties[0].logicalType", "'text' is not one of"),
        (HEADER, "schema:\n  - name: s\n    properties:\n      - {name: a, logicalType: time}\n",
         "schema[0].properties[0] (a)", "unknown logicalType 'time'"),
        (HEADER, "schema:\n  - name: s\n    properties:\n      - {name: a, logicalType: string, physicalType: BLOB}\n",
         "schema[0].properties[0] (a)", "unknown physicalType 'BLOB'"),
        (HEADER, "schema:\n  - name: s\n    properties:\n      - {name: a, logicalType: integer, physicalType: VARCHAR}\n",
         "schema[0].properties[0] (a)", "does not implement logicalType 'integer'"),
        (HEADER, "schema:\n  - name: s\n    properties:\n      - {name: a, logicalType: string}\n      - {name: a, logicalType: string}\n",
         "schema[0].properties[1].name", "duplicate column 'a'"),
        (HEADER, "schema:\n  - name: s\n    propertiez: []\n", "schema[0]", "'propertiez' was unexpected"),
        (HEADER, "schema: [\n", "line 7, column 1", "malformed YAML"),
    ],
)
def test_a_bad_contract_names_the_file_and_the_field(tmp_path, header, body, field, expected):
    path = write(tmp_path, body, header)
    with pytest.raises(ContractError) as error:
        parse_contract(path)
    assert error.value.path == str(path)
    assert error.value.field == field
    assert expected in error.value.expected


def test_decimal_precision_is_bounded():
    assert arrow_type_for("number", "DECIMAL(38, 10)") == pa.decimal128(38, 10)
    with pytest.raises(ValueError, match="precision"):
        arrow_type_for("number", "DECIMAL(40,2)")
