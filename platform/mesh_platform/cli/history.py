"""`mesh history`, `mesh rollback`, `mesh withdraw`, `mesh vacuum`: a port's past, and the owner's
ways back (registered on the mesh CLI). The work is done in runtime/rollback.py,
runtime/ports/withdrawal.py and runtime/retention.py; this module only parses and prints."""

from __future__ import annotations

import re
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.common import ProjectOption, console, errors, print_table, wide
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import find_product as _find_product
from mesh_platform.cli.common import project_root as _root
from mesh_platform.model.errors import MeshError

_PINNED = re.compile(r"^(?P<product>[^@]+)@v(?P<major>\d+)$")
AsOption = Annotated[Optional[str], typer.Option("--as", help=(
    "Act as this domain (default: the product's owner, the only domain that may). On local disk no identity is bound: "
    "the mesh trusts the user at this machine and records the OS user in the commit; on an object store the domain's own keys are used."))]


def register(app: typer.Typer) -> None:
    """Add the history commands to the `mesh` CLI."""
    for command in (history, rollback, withdraw, vacuum):
        app.command()(command)


def _operator(domain: str) -> str:
    from mesh_platform.model.identity import os_user  # reason: only the commands that write record who did

    return f"operator {os_user()!r} as domain {domain!r}"


def history(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    major: Annotated[Optional[int], typer.Option("--major", help="The contract major's port (default: the current one).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many versions, newest first.")] = 20,
    project: ProjectOption = None,
) -> None:
    """List a port's versions: version, time, operation, contract version, rows, and which
    version a rollback restored."""
    from mesh_platform.model.mesh import Mesh  # reason: the mesh and the store load only for this command
    from mesh_platform.runtime.ports.history import horizon, port_history
    from mesh_platform.runtime.ports.store import port_store

    root = _root(project)
    found = _find_product(Mesh.load(root), product)
    store = port_store(root, acting=found.domain)
    major = found.contract.major if major is None else major
    uri = store.uri(found.domain, found.name, major)
    try:
        entries = port_history(store, uri, limit)
    except MeshError as exc:
        _fail(str(exc))
    if not entries:
        _fail(f"{found.id}@v{major} has never been published: no version to list")
    table = Table(title=f"{found.id}@v{major}")
    for column in ("version", "time (UTC)", "operation", "contract", "rows", "note"):
        # Everything but the note is one token (a time, a version): never wrapped mid-word.
        table.add_column(column, justify="right" if column in ("version", "rows") else "left", no_wrap=column != "note")
    for entry in entries:
        note = f"rollback to v{entry.rollback_of} by {entry.by}" if entry.rollback_of is not None else ""
        if not entry.readable:
            note = (note + "; " if note else "") + "vacuumed"
        rows = f"{entry.rows:,}" if entry.rows is not None else ""
        table.add_row(str(entry.version), entry.time.strftime("%Y-%m-%d %H:%M:%S"), entry.operation,
                      entry.contract_version or "", rows, escape(note))
    print_table(wide(console), table)
    vacuumed = horizon(store, uri)
    if vacuumed and int(vacuumed.get("oldest", 0)) > 0:  # their log entries may be gone: say so, not silently fewer rows
        console.print(f"versions before {vacuumed['oldest']} removed by the retention vacuum of {vacuumed.get('at', '?')} "
                      f"(retention {vacuumed.get('retention', '?')})", soft_wrap=True)


def rollback(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    to_version: Annotated[int, typer.Option("--to-version", help="The port version whose rows to restore (see `mesh history`).")],
    major: Annotated[Optional[int], typer.Option("--major", help="The contract major's port (default: the current one).")] = None,
    acting: AsOption = None,
    project: ProjectOption = None,
) -> None:
    """Restore the rows of an earlier version as the port's next version, audited against
    today's contract (refused, and nothing changed, if they break it). Owner only."""
    from mesh_platform.model.mesh import Mesh  # reason: the write path loads only for this command
    from mesh_platform.orchestration.build import location_governance  # reason: loading a location (Dagster) only for this command
    from mesh_platform.runtime.rollback import rollback as restore

    root = _root(project)
    found = _find_product(Mesh.load(root), product)
    domain = acting or found.domain
    try:
        # Audited as the location publishes: the global policies and the domain's own.
        governance = location_governance(root, found.domain) if domain == found.domain else None
        result = restore(root, found, to_version, acting=domain, by=_operator(domain), major=major, governance=governance)
    except MeshError as exc:
        _fail(str(exc))
    console.print(f"{escape(found.id)}: version {result.version} restores the {result.rows:,} rows of version {to_version}", soft_wrap=True)


def withdraw(
    pinned: Annotated[str, typer.Argument(help="The published major, as domain.product@vM.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: shown to every consumer whose read is refused.")],
    acting: AsOption = None,
    project: ProjectOption = None,
) -> None:
    """Withdraw a published major: consumers pinned to it are refused with the reason and the
    major to move to; the next publish goes back to an earlier major or to a higher one. Owner only."""
    from mesh_platform.model.mesh import Mesh  # reason: the mesh and the store load only for this command
    from mesh_platform.runtime.ports.store import port_store
    from mesh_platform.runtime.ports.withdrawal import withdraw as mark

    match = _PINNED.match(pinned.strip())
    if match is None:
        _fail(f"{pinned!r} names no major: write domain.product@vM (e.g. shared.carriers@v2)")
    root = _root(project)
    found = _find_product(Mesh.load(root), match["product"])
    domain = acting or found.domain
    try:
        done = mark(port_store(root, acting=domain), found.domain, found.name, int(match["major"]), reason, acting=domain, by=_operator(domain))
    except (MeshError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{escape(found.id)}@v{done.major} withdrawn: {escape(done.reason)}", soft_wrap=True)


def vacuum(
    domain: Annotated[Optional[str], typer.Option("--domain", "-d", help="Only this domain's ports.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be removed; remove nothing.")] = False,
    project: ProjectOption = None,
) -> None:
    """Enforce each contract's retention SLA: remove the files of versions older than it (the
    latest is always kept) and the files of refused publishes, printing what goes."""
    from mesh_platform.cli.catalog.entries import format_window  # reason: the catalog and the store load only for this command
    from mesh_platform.runtime.retention import vacuum_mesh

    root = _root(project)
    try:
        results = vacuum_mesh(root, domain, dry_run=dry_run)
    except (MeshError, ValueError) as exc:
        _fail(str(exc))
    verb = "would remove" if dry_run else "removed"
    out = wide(console)
    for port in results:
        kept = f"versions {port.oldest_kept}..{port.latest} kept" if port.oldest_kept is not None else "never published"
        retention = f"retention {format_window(port.retention)}" if port.retention is not None else "no retention SLA"
        out.print(f"{escape(port.uri)}: {retention}; {kept}; {verb} {len(port.files)} files, {len(port.log_entries)} log entries", soft_wrap=True)
        for name in port.files + [f"_delta_log/{n}" for n in port.log_entries]:
            out.print(f"  {verb}: {escape(name)}", soft_wrap=True)
    errors.print(f"{len(results)} ports; {verb} {sum(len(p.files) for p in results)} files")
