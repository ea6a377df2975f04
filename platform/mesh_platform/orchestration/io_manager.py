"""The IO manager every domain gets: outputs are committed to ports, inputs are read from ports.

It knows a product only by its asset key `[domain, product]` and the metadata the platform put
on the asset (contract file, partition column). No domain code ever sees a path.

Inputs are read as of a port version, and the version is kept: each input's Delta version is
recorded in the consuming asset's materialization metadata as `mesh/input_version/<domain>.<product>`,
and a run tagged with the same key (value: a version) reads that input as of that version, so a
re-run can reproduce what a materialization read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from mesh_platform.model.contracts import load_contract
from mesh_platform.model.identity import step_reader
from mesh_platform.model.mesh import current_mesh
from mesh_platform.model.names import product_id

if TYPE_CHECKING:
    from mesh_platform.runtime.ports.conform import PartitionSlice

# The data stack (pyarrow.dataset, pandas, duckdb, deltalake) loads when a step reads or writes a
# port, never when a code location loads (issue 12): this module is imported by every location.

CONTRACT_KEY = "mesh/contract"
PARTITION_COLUMN_KEY = "mesh/partition_column"
PINNED_MAJOR_KEY = "mesh/major"  # on an input: the contract major the consumer pinned
# On an input: the columns the consumer declares it reads (descriptor `columns:`). Only these are
# handed over, so a wrong declaration fails the product's own run rather than passing consumer impact.
READ_COLUMNS_KEY = "mesh/columns"
INPUT_VERSION_PREFIX = "mesh/input_version/"  # + product id: a run tag pinning an input, and its recorded version


def column_schema(contract) -> dg.TableSchema:
    """The port's columns as the UI shows them: SQL type, description, constraints, classification."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name, c.sql_type, description=c.description,
                constraints=dg.TableColumnConstraints(nullable=not c.required, unique=c.unique),
                tags={"classification": c.classification} if c.classification else None,
            )
            for c in contract.columns
        ]
    )


def _slice(context: dg.InputContext | dg.OutputContext, column: str | None) -> PartitionSlice | None:
    if column is None or not context.has_asset_partitions:
        return None
    from mesh_platform.runtime.ports.conform import PartitionSlice  # reason: pyarrow.dataset loads at run time, not at location load
    window = context.asset_partitions_time_window
    return PartitionSlice(column, window.start.date(), window.end.date())


def _key(asset_key: dg.AssetKey) -> tuple[str, str]:
    if len(asset_key.path) != 2:
        raise dg.DagsterInvariantViolationError(
            f"asset {asset_key.to_user_string()} is not a product: product keys are [domain, product]"
        )
    return asset_key.path[0], asset_key.path[1]


class PortIOManager(dg.ConfigurableIOManager):
    """Reads and writes the output ports of the mesh on behalf of one domain."""

    project_root: str
    domain: str
    # The versions each step's inputs were read at, until its output is committed: (run, step) -> {key: version}.
    _read_versions: dict[tuple[str, str], dict[str, int]] = PrivateAttr(default_factory=dict)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        domain, product = _key(context.asset_key)
        if domain != self.domain:  # a location publishes its own domain's ports only
            raise dg.DagsterInvariantViolationError(
                f"the code location of domain {self.domain!r} may not publish {product_id(domain, product)}: "
                "a domain publishes only its own products' ports"
            )
        from mesh_platform.runtime.ports.formats import to_arrow  # reason: pandas and duckdb load at run time, not at location load
        from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads at run time, not at location load
        from mesh_platform.runtime.ports.port import StagedBatch  # reason: the write path loads at run time, not at location load
        from mesh_platform.runtime.publishing import commit, publish  # reason: the write path loads at run time, not at location load

        label = product_id(domain, product)
        metadata = context.definition_metadata or {}
        contract = load_contract(Path(self.project_root) / str(metadata[CONTRACT_KEY]))
        partition_column = metadata.get(PARTITION_COLUMN_KEY)
        store, partition = port_store(self.project_root, acting=self.domain), _slice(context, partition_column)
        if isinstance(obj, StagedBatch):
            # The commit step of the one write path: the asset body has staged and audited the batch.
            if (obj.uri, obj.partition) != (store.uri(domain, product, contract.major), partition):
                raise dg.DagsterInvariantViolationError(
                    f"{label}: the staged batch is for {obj.uri} {obj.partition}, not this output's port and partition"
                )
            result = publish(store, obj, contract, context.run_id, root=self.project_root)
        else:  # a batch handed straight to the IO manager: staged and committed here
            result = commit(
                store, domain, product, contract, to_arrow(obj, label),
                run_id=context.run_id, partition_by=partition_column, partition=partition, root=self.project_root,
            )
        context.add_output_metadata(port_metadata(result, contract))
        read = self._read_versions.pop((context.run_id, context.step_key), {})
        context.add_output_metadata({key: dg.MetadataValue.int(version) for key, version in sorted(read.items())})

    def load_input(self, context: dg.InputContext) -> Any:
        from mesh_platform.runtime.ports.formats import from_arrow  # reason: pandas and duckdb load at run time, not at location load
        from mesh_platform.runtime.reading import locate, plan_read, read_table  # reason: governed reads load at run time, not at location load
        from mesh_platform.runtime.usage import VIA_PYTHON, declared_consumers, record_read  # reason: the port store loads at run time, not at location load

        upstream = context.upstream_output
        domain, product = _key(context.asset_key)
        metadata = (upstream.definition_metadata if upstream else None) or {}
        partition = _slice(context, metadata.get(PARTITION_COLUMN_KEY))
        mesh = current_mesh(Path(self.project_root))
        producer = mesh.require(product_id(domain, product), consumer=f"domain {self.domain!r}")
        pinned = (context.definition_metadata or {}).get(PINNED_MAJOR_KEY)
        # The reader is the domain whose product this step builds, never a configurable name.
        version_key = INPUT_VERSION_PREFIX + producer.id
        version = pinned_version(context.step_context.run_tags, version_key)
        plan = plan_read(mesh, step_reader(context, self.domain), producer, pinned, version=version)
        if plan.warning:
            context.log.warning(plan.warning)
        location = locate(plan)
        declared = (context.definition_metadata or {}).get(READ_COLUMNS_KEY)
        table = read_table(plan, partition, columns=list(declared) if declared else None, location=location)
        record_read(plan, VIA_PYTHON, declared_consumers(mesh, self.domain, producer), location.version)
        step = (context.step_context.run_id, context.step_context.step.key)
        self._read_versions.setdefault(step, {})[version_key] = location.version
        masked = f", masked: {', '.join(sorted(plan.masks))}" if plan.masks else ""
        context.log.debug(f"read {table.num_rows} rows of {plan.label} version {location.version} for {plan.reader}{masked}")
        return from_arrow(table, context.dagster_type.typing_type)


def pinned_version(tags, key: str) -> int | None:
    """The port version a run's tag `key` pins an input to (None: untagged, the latest)."""
    value = tags.get(key)
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit():
        raise dg.DagsterInvariantViolationError(
            f"run tag {key}={value!r}: a port version is a non-negative integer (the `{key}` of a past materialization)"
        )
    return int(text)


def port_metadata(result, contract) -> dict[str, Any]:
    """What each publish records in Dagster: where, which version, how many rows, which schema."""
    return {
        "dagster/uri": dg.MetadataValue.path(result.uri),
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        "delta_version": dg.MetadataValue.int(result.version),
        "contract_version": dg.MetadataValue.text(contract.version),
        "dagster/column_schema": column_schema(contract),
        "published_at": dg.MetadataValue.timestamp(dt.datetime.now(dt.timezone.utc)),
    }
