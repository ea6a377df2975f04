"""The `mesh` command: the front door of the platform for domain engineers and operators."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.common import ProjectOption, console, errors, print_table
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import find_product as _find_product
from mesh_platform.cli.common import project_root as _root
from mesh_platform.cli.version import show_version
from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import mesh_home, prepared_dagster_home, run_settings

app = typer.Typer(
    help="Build, run and inspect the data mesh.", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click lays help out: typer's rich panels keep a docstring's line breaks in the command list
)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the versions of the mesh platform, Dagster and dbt-core, and exit.")] = False,
) -> None:
    """Build, run and inspect the data mesh."""


@app.command()
def build(
    domain: Annotated[Optional[list[str]], typer.Option("--domain", "-d", help="Build only this domain (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final report as JSON (progress goes to standard error).")] = False,
    queued: Annotated[bool, typer.Option("--queued", help="Submit each domain's run to the instance's run queue for the daemon to launch (MESH_BUILD_MODE=queued for this command).")] = False,
    project: ProjectOption = None,
) -> None:
    """Materialize every product of every domain, producers before consumers."""
    from mesh_platform.orchestration.build import build as run_build  # each command loads what it needs: `mesh --help` stays fast

    root = _root(project)
    run_settings(root)  # a bad setting stops the build in one line before it touches the instance
    out = errors if as_json else console  # progress: stdout for people, stderr when stdout is JSON
    shown: set[tuple[str, ...]] = set()
    log_path = mesh_home(root) / "logs" / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    def on_domain(name: str, phase: str) -> None:
        if phase == "start":
            out.print(f"[bold]▶ {name}[/]")
        else:
            style = "green" if phase == "succeeded" else "red"
            out.print(f"[{style}]  {name}: {phase}[/]")

    def on_event(name: str, entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        if event.event_type_value == "ASSET_MATERIALIZATION":
            if tuple(event.asset_key.path) in shown:
                return  # a range of partitions lands as one event per partition; say it once
            shown.add(tuple(event.asset_key.path))
            key = ".".join(event.asset_key.path)
            rows = event.event_specific_data.materialization.metadata.get("dagster/row_count")
            scope = " (all partitions)" if event.partition else ""
            out.print(f"  [green]✔[/] {key}{scope}" + (f" — {rows.value:,} rows" if rows else ""))
        elif event.event_type_value == "STEP_START":
            out.print(f"  [dim]… {event.step_key}[/]")
        elif event.event_type_value == "STEP_FAILURE":
            out.print(f"  [red]✘ {event.step_key}[/]")

    out.print(f"[dim]dbt and run output: {log_path}[/]")
    _close_orphaned_runs(root, out, "mesh build")
    try:
        with open(log_path, "w") as log, contextlib.redirect_stdout(log):
            report = run_build(root, domain or None, on_event=on_event, on_domain=on_domain, queued=True if queued else None,
                               say=lambda line: out.print(f"[dim]{escape(line)}[/]"))
    except MeshError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps({"ok": report.ok, "domains": [dataclasses.asdict(d) for d in report.domains],
                                       "products": [dataclasses.asdict(p) for p in report.products]}))
        if not report.ok:
            raise typer.Exit(code=1)
        return
    table = Table(title="mesh build")
    for column in ("product", "rows", "port version", "status"):
        table.add_column(column, justify="right" if column in ("rows", "port version") else "left", no_wrap=column == "product")
    for product in report.products:
        style = {"published": "green", "failed": "red", "not built": "red"}.get(product.status, "yellow")
        table.add_row(
            product.product,
            f"{product.rows:,}" if product.rows is not None else "",
            str(product.version) if product.version is not None else "",
            f"[{style}]{product.status}[/]",
        )
    print_table(console, table)
    if not report.ok:
        for line in report.failures():
            errors.print(f"[bold red]failed:[/] {escape(line)}", soft_wrap=True)  # one line each: scripts grep them
        raise typer.Exit(code=1)


@app.command()
def validate(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (for CI).")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List every policy of every product, passing ones too.")] = False,
    base: Annotated[Optional[str], typer.Option("--base", help="Also compare every contract, and what its consumers read, with the contracts at this git ref (e.g. HEAD~1; no ports needed).")] = None,
    publish_registry: Annotated[bool, typer.Option("--publish-registry", help="Publish each valid domain's declarations to the registry beside the ports (a release step: a branch's draft contract must not reach consumers).")] = False,
    project: ProjectOption = None,
) -> None:
    """Load every domain as Dagster would; check its descriptors, contracts, dbt project and the
    mesh's policies. Exits 1 when a domain does not load or an error policy fails."""
    from mesh_platform.orchestration.mesh_validation import validate_mesh  # Dagster loads only for this command

    from mesh_platform.runtime.registry import publish_domains, sync_registry  # reason: the store loads only for this command

    root = _root(project)
    with console.status("validating every domain…") if not as_json else contextlib.nullcontext():
        sync_registry(root)  # the declarations of the domains this checkout lacks and consumes
        reports = validate_mesh(root, base)
        # Only when asked: validate runs on branches too (CI), whose drafts consumers must not load.
        unpublished = publish_domains(root, [r.domain for r in reports if r.ok]) if publish_registry else {}
        for report in reports:
            if report.domain in unpublished:
                report.notes.append(f"registry entries not published: {unpublished[report.domain]}")
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(r) for r in reports]))
    else:
        table = Table(title="mesh validate")
        for column in ("domain", "products", "status"):
            table.add_column(column, no_wrap=column == "domain")
        for report in reports:
            status = "[green]ok[/]" if report.ok else f"[red]error:[/] {escape(report.error or '')}"
            table.add_row(report.domain, ", ".join(report.products), status)
        print_table(console, table)
        for report in reports:
            for note in report.notes:
                console.print(f"[yellow]note:[/] {escape(report.domain)}: {escape(note)}", soft_wrap=True)
        print_table(console, _policy_table([f for r in reports for f in r.policies], show_all))
    if not all(r.ok for r in reports) or any(f["status"] == "fail" and f["severity"] == "error" for r in reports for f in r.policies):
        raise typer.Exit(code=1)


def _policy_table(findings: list[dict], show_all: bool) -> Table:
    """One row per product and policy that needs attention (every one with --all)."""
    table = Table(title="policies")
    for column in ("product", "policy", "severity", "result", "detail"):
        table.add_column(column, no_wrap=column in ("product", "policy", "severity"))
    style = {"pass": "[green]pass[/]", "not evaluated": "[yellow]not evaluated[/]"}
    by_product: dict[str, list[dict]] = {}
    for finding in findings:
        by_product.setdefault(finding["product"], []).append(finding)
    for product, items in sorted(by_product.items()):
        shown = items if show_all else [f for f in items if f["status"] != "pass"]
        if not shown:
            table.add_row(product, f"all {len(items)}", "", "[green]pass[/]", "")
        for f in shown:
            result = style.get(f["status"]) or ("[red]fail[/]" if f["severity"] == "error" else "[yellow]warning[/]")
            scope = "" if f["scope"] == "global" else f" ({f['scope']})"
            table.add_row(product, f["policy"] + scope, f["severity"], result, escape("; ".join(f["messages"])))
    return table


contract_app = typer.Typer(help="Work with data contracts.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")


@contract_app.command("export")
def contract_export(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of standard output.")] = None,
    project: ProjectOption = None,
) -> None:
    """Write a port's ODCS contract, with a `servers` entry pointing at its Delta port."""
    from mesh_platform.model.mesh import Mesh  # the contract model and deltalake load only for this command
    from mesh_platform.runtime.export import export_contract
    from mesh_platform.runtime.ports.store import port_store

    root = _root(project)
    found = _find_product(Mesh.load(root), product)
    text = export_contract(found, port_store(root, acting=None))
    if output:
        output.write_text(text)
        errors.print(f"wrote {output}")
    else:
        console.out(text, end="", highlight=False)


@app.command()
def sql(
    acting: Annotated[Optional[str], typer.Option("--as", help="Act as this domain: see what it may read, masked as it sees it. Without it: public products only.")] = None,
    command: Annotated[Optional[str], typer.Option("-c", "--command", help="Run this query and exit (otherwise an interactive session).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON records.")] = False,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows shown per result in a table.")] = 50,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Read every port as of this version (an integer) or moment (ISO timestamp, UTC unless it says).")] = None,
    project: ProjectOption = None,
) -> None:
    """Query the mesh's ports in DuckDB: every product the acting domain may read is a view
    `domain.product`, with personal columns masked and other products refused, as on any read.
    Nothing else is reachable (no file, database, extension or setting). --as is an operator's
    impersonation: each query is recorded in $MESH_HOME/logs/access.log."""
    from mesh_platform.runtime.impersonation import access_log  # DuckDB and the ports load only for this command
    from mesh_platform.runtime.sql import SqlSession

    root = _root(project)
    from mesh_platform.runtime.ports.history import parse_as_of  # reason: the store loads only for this command

    with errors.status("attaching ports…"):
        session = SqlSession.open(root, acting, parse_as_of(as_of) if as_of else None)
    if acting:
        errors.print(f"[bold yellow]impersonating domain {escape(repr(acting))}[/]: an operator's session reading what {escape(acting)} "
                     f"reads, masked as it sees it; each query is recorded (fingerprint and products, never its text) in {access_log(root)}",
                     soft_wrap=True)
    for name, why in session.unavailable.items():
        errors.print(f"[yellow]not attached:[/] {escape(name)}: it did not load: {escape(why)}", soft_wrap=True)
    for warning in session.warnings:  # a deprecated product's consumers are told at every read
        errors.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if command is not None:
        _print_result(session.run(command), as_json, max_rows)
        return
    who = f"as domain {acting!r}" if acting else "without --as: public products only"
    errors.print(f"[bold]mesh sql[/] {who}; {len(session.views)} products as views. "
                 "End a query with ';'. [dim].tables lists them, .quit leaves.[/]")
    _repl(session, as_json, max_rows)


def _repl(session, as_json: bool, max_rows: int) -> None:
    buffer: list[str] = []
    while True:
        try:
            line = input("mesh> " if not buffer else "  ..> ")
        except EOFError:
            break
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit"):
            break
        if not buffer and stripped == ".tables":
            for product, masked in sorted(session.views.items()):
                console.print(product + (f"  [dim](masked: {', '.join(masked)})[/]" if masked else ""))
            for name in session.unavailable:
                console.print(f"{escape(name)}  [dim](not attached: it did not load)[/]")
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            query, buffer = "\n".join(buffer), []
            try:
                _print_result(session.run(query), as_json, max_rows)
            except (MeshError, Exception) as exc:  # the session goes on after a bad query
                errors.print(f"[bold red]error:[/] {escape(' '.join(str(exc).split()))}", soft_wrap=True)


def _print_result(result: tuple[list[str], list[tuple]] | None, as_json: bool, max_rows: int) -> None:
    if result is None:
        return
    columns, rows = result
    if as_json:
        console.print_json(json.dumps([dict(zip(columns, row)) for row in rows], default=str))
        return
    table = Table(*columns, caption=f"{len(rows)} rows" + (f", first {max_rows} shown" if len(rows) > max_rows else ""))
    for row in rows[:max_rows]:
        table.add_row(*("NULL" if v is None else escape(str(v)) for v in row))
    print_table(console, table)


@contract_app.command("diff")
def contract_diff(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    base: Annotated[Optional[Path], typer.Option("--base", help="Compare with this contract file instead of the published one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON (for CI).")] = False,
    project: ProjectOption = None,
) -> None:
    """Show how the working tree's contract differs from the one consumers see now (stored with
    the port's last publish), how each change is classified, and whether the version bump fits.
    Exits 1 when the bump is not enough."""
    from mesh_platform.model.contracts import load_contract  # the contract model and deltalake load only for this command
    from mesh_platform.model.contracts.versions import diff_contracts, release_problem
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.ports.store import port_store

    root = _root(project)
    found = _find_product(Mesh.load(root), product)
    if base is not None:
        before, source = load_contract(base), str(base)
        major = before.major
    else:
        published = port_store(root, acting=None).latest_published(found.domain, found.name)
        if published is None:
            _fail(f"{found.id} has never been published: there is no contract consumers see yet", "pass --base FILE to compare with a contract file")
        major, before = published
        source = f"published port v{major}"
    diff = diff_contracts(before, found.contract)
    problem = release_problem(before, major, found.contract)  # the verdict `mesh validate` gives
    if as_json:
        console.print_json(json.dumps({
            "product": found.id, "base": source, "old_version": diff.old_version, "new_version": diff.new_version,
            "required": diff.required, "bumped": diff.bumped, "problem": problem,
            "changes": [dataclasses.asdict(c) for c in diff.changes],
        }))
    else:
        table = Table(title=f"{found.id}: {source} {diff.old_version} -> working tree {diff.new_version}")
        for column in ("level", "subject", "change"):
            table.add_column(column, no_wrap=column != "change")
        colour = {"major": "red", "minor": "yellow", "patch": "cyan"}
        for change in diff.changes:
            table.add_row(f"[{colour[change.level]}]{change.level}[/]", change.subject, escape(change.text))
        if diff.changes:
            print_table(console, table)
        else:
            console.print(f"{found.id}: no change against {source} ({diff.old_version})")
        verdict = f"[red]{escape(problem)}[/]" if problem else f"[green]version {diff.new_version} fits the change ({diff.required or 'none'})[/]"
        console.print(verdict)
    if problem:
        raise typer.Exit(code=1)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
    project: ProjectOption = None,
) -> None:
    """Start the Dagster UI and daemon on every domain, with the runs `mesh build` recorded."""
    root = _root(project)
    settings = run_settings(root)  # a bad setting stops here in one line, not in every code location
    _close_orphaned_runs(root, console, "mesh dev")  # opens the instance: an unreachable Postgres stops here in one line
    home = prepared_dagster_home(root)
    # The UI, the daemon and the runs they launch record in the instance mesh build uses; the
    # code locations they load read MESH_EXECUTOR from the same environment.
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(root / "workspace.yaml"), "-p", str(port)]
    console.print(f"Dagster UI on http://127.0.0.1:{port} (instance {home}, {settings.instance_storage} storage, executor {settings.executor})")
    # A shell's background job ignores SIGINT and the child would inherit that: give dagster dev
    # default handlers, and turn our SIGTERM into the SIGINT it shuts down cleanly on.
    process = subprocess.Popen(command, cwd=root, env=env, preexec_fn=_default_signal_handlers)
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGINT))
    try:
        raise typer.Exit(process.wait())
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        raise typer.Exit(process.wait())


def _close_orphaned_runs(root: Path, out: Console, starter: str) -> None:
    """Runs a killed `mesh build` left STARTED would show as running forever: mark them failed."""
    from mesh_platform.orchestration.runs import instance_for  # Dagster loads only for this command
    from mesh_platform.orchestration.orphaned_runs import fail_orphaned_runs

    with instance_for(root) as instance:
        for run in fail_orphaned_runs(instance, starter):
            out.print(f"[yellow]orphaned:[/] {escape(run.line())}")


def _default_signal_handlers() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


# Commands that live beside the code they drive: each module adds its own to the app.
from mesh_platform.cli.access import register as _register_access  # noqa: E402
from mesh_platform.cli.catalog.commands import register as _register_catalog  # noqa: E402
from mesh_platform.cli.health import health as _health  # noqa: E402
from mesh_platform.cli.history import register as _register_history  # noqa: E402
from mesh_platform.cli.scaffold.commands import register as _register_scaffold  # noqa: E402
from mesh_platform.cli.storage import storage_app  # noqa: E402

for _register in (_register_catalog, _register_scaffold, _register_access, _register_history):
    _register(app)
app.add_typer(storage_app, name="storage")
app.command("health")(_health)
from mesh_platform.cli.impact import impact as _impact  # noqa: E402
app.command()(_impact)


def main() -> None:
    try:
        app()
    except MeshError as exc:  # expected failures: one readable line
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("MESH_DEBUG"):
            raise
        errors.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}")
        errors.print("[dim]hint: set MESH_DEBUG=1 to see the traceback[/]")
        sys.exit(1)
