"""A separate process that publishes a port over and over (killed or raced by the tests).

Even writers stage Arrow batches through the store; odd writers stage through the DuckDB engine's
COPY, as a dbt product does: both write files into the port and commit them."""

from __future__ import annotations

import sys

import duckdb
import pyarrow as pa

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import PublishError
from mesh_platform.runtime.engines.duckdb import DuckDBEngine
from mesh_platform.runtime.ports.delta import adopt, commit, publish, staging_folder

ROWS = 200_000


def batch(writer: int, round_: int) -> pa.Table:
    marker = writer * 1000 + round_
    return pa.table({"id": pa.array(range(ROWS), pa.int64()), "batch": pa.array([marker] * ROWS, pa.int64())})


def publish_through_duckdb(uri: str, data: pa.Table, schema: pa.Schema):
    folder, path = staging_folder(uri)
    with duckdb.connect() as session:
        session.register("incoming", data)
        session.execute("create table counter as select * from incoming")
        DuckDBEngine().stage_output(session, '"counter"', path, schema)
    return commit(adopt(uri, folder, schema, label="lab.counter"))


def main(uri: str, contract: str, writer: int, rounds: int) -> None:
    schema = parse_contract(contract).arrow_schema()
    print("started", flush=True)
    for round_ in range(rounds):
        try:
            if writer % 2:
                result = publish_through_duckdb(uri, batch(writer, round_), schema)
            else:
                result = publish(uri, batch(writer, round_), schema, label="lab.counter")
            print(f"published {result.version}", flush=True)
        except PublishError as exc:
            print(f"refused {exc}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
