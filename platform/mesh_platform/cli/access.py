"""`mesh access apply|show`: the storage identities the access policies call for (registered on
the mesh CLI). The work is done by runtime/objectstore/access.py; this module only prints."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.common import ProjectOption, console, errors, print_table, wide
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import project_root as _root
from mesh_platform.model.errors import MeshError

access_app = typer.Typer(help="Storage identities derived from the access policies: one per domain, enforced by the object store.", no_args_is_help=True)

_LEVEL_STYLE = {"write": "bold green", "read": "green", "masked": "yellow", "-": "dim"}


class Format(str, Enum):
    seaweedfs = "seaweedfs"
    aws_iam = "aws-iam"


def register(app: typer.Typer) -> None:
    """Add `mesh access` to the `mesh` CLI."""
    app.add_typer(access_app, name="access")


@access_app.command("apply")
def apply(
    form: Annotated[Format, typer.Option("--format", help="seaweedfs: write and reload the local object store's identities. "
                                           "aws-iam: print one IAM policy document per identity for an external S3 (nothing is changed).")] = Format.seaweedfs,
    project: ProjectOption = None,
) -> None:
    """Give every domain's storage identity exactly what the access policies allow: write under its
    own domain, read the ports it may read (masked projections only where it sees personal data
    masked), nothing else. Keys are created once under MESH_STORAGE_IDENTITIES and kept."""
    from mesh_platform.model.mesh import Mesh  # the mesh and the store load only for this command
    from mesh_platform.runtime.objectstore.access import apply_access, iam_policies

    root = _root(project)
    try:
        mesh = Mesh.load(root)
        if form is Format.aws_iam:
            console.print_json(json.dumps(iam_policies(root, mesh)))
            return
        change = apply_access(root, mesh)
    except MeshError as exc:
        _fail(str(exc))
    _print_change(change)


def _print_change(change) -> None:
    for identity in change.keys_created:
        console.print(f"[green]keys created[/] for {escape(identity)}", soft_wrap=True)
    for identity in change.identities_added:
        console.print(f"[green]+ identity[/] {escape(identity)} with {len(change.granted.get(identity, ()))} grants", soft_wrap=True)
    for identity in change.identities_removed:
        console.print(f"[red]- identity[/] {escape(identity)}", soft_wrap=True)
    for identity in sorted({*change.granted, *change.revoked} - {*change.identities_added, *change.identities_removed}):
        for action in change.granted.get(identity, ()):
            console.print(f"[green]+[/] {escape(identity)}: {escape(action)}", soft_wrap=True)
        for action in change.revoked.get(identity, ()):
            console.print(f"[red]-[/] {escape(identity)}: {escape(action)}", soft_wrap=True)
    if change.warning:
        errors.print(f"[yellow]warning:[/] {escape(change.warning)}", soft_wrap=True)
    if not change.changed:
        console.print("no change: the store's identities already follow the policies")
    where = "the local object store reloaded them" if change.reloaded else "no local object store runs: it reads them when it starts"
    console.print(f"identities written to {escape(str(change.config))}; {where}", soft_wrap=True)


@access_app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print the matrix as JSON: product -> domain -> level.")] = False,
    project: ProjectOption = None,
) -> None:
    """The access matrix, products x domains: `write` (its owner), `read` (raw), `masked` (the
    masked projection only), `-` (nothing). The object store enforces it once `mesh access apply` ran."""
    from mesh_platform.model.mesh import Mesh  # the mesh loads only for this command
    from mesh_platform.model.storage_grants import access_matrix

    root = _root(project)
    mesh = Mesh.load(root)
    try:
        from mesh_platform.runtime.objectstore.access import projected_products  # reason: the port store loads for `show` only

        # As `apply` grants: a product that published a masked projection stays masked for readers without personal-data rights.
        matrix = access_matrix(mesh, projected_products(root, mesh) or frozenset())
    except MeshError as exc:
        _fail(str(exc))
    for folder, problem in sorted(mesh.broken.items()):
        errors.print(f"[yellow]warning:[/] {escape(str(folder))} does not load, its products are not listed: {escape(str(problem))}", soft_wrap=True)
    if as_json:
        console.print_json(json.dumps(matrix))
        return
    domains = list(mesh.domains)
    table = Table(title="mesh access: what each domain's storage identity may do with each product")
    table.add_column("product", no_wrap=True)
    for domain in domains:
        table.add_column(domain, justify="center", no_wrap=True)
    for product, levels in matrix.items():
        table.add_row(product, *(f"[{_LEVEL_STYLE[levels[d]]}]{levels[d]}[/]" for d in domains))
    print_table(wide(console), table)
    console.print("[dim]write: owner (write, read, list its domain) · read: raw port · masked: masked projection only · -: nothing[/]", soft_wrap=True)

