"""`mesh new domain` and `mesh new product` (registered on the mesh CLI)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from mesh_platform.cli.common import ProjectOption, console
from mesh_platform.cli.common import fail as _fail
from mesh_platform.cli.common import project_root as _root
from mesh_platform.model.errors import MeshError

new_app = typer.Typer(
    help="Create a domain or a data product that loads, validates and builds as is.",
    no_args_is_help=True,
)

InputsOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--input", "-i", metavar="DOMAIN.PRODUCT",
        help="An input port the product reads (repeatable). The example then counts the first input's rows "
             "per one of its columns, with the other inputs' rows beside them.",
    ),
]


def _run(plan_it) -> None:
    """Plan, write (all or nothing, policies checked) and report; every failure is one line."""
    from mesh_platform.cli.scaffold.generate import ScaffoldError, apply, policy_check  # the scaffold (contracts, policies) loads only when a command runs

    try:
        plan = plan_it()
        apply(plan, check=policy_check)
    except ScaffoldError as exc:
        _fail(str(exc), exc.hint)
    except MeshError as exc:
        _fail(" ".join(str(exc).split()), "nothing was kept; `mesh validate` shows what the mesh makes of its files")
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), "nothing was kept: every file written was removed again")
    _report(plan)


def _report(plan) -> None:
    from mesh_platform.cli.scaffold.generate import build_order  # the scaffold (contracts, policies) loads only when a command runs

    console.print(f"[green]✔[/] created {escape(plan.title)}", soft_wrap=True)
    for path in plan.creates:
        console.print(f"  [green]+[/] {escape(plan.rel(path))}", soft_wrap=True)
    for note in plan.notes:
        console.print(f"  [yellow]~[/] {escape(note)}", soft_wrap=True)
    order = build_order(plan.root, plan.domain)
    steps = [
        ("mesh validate", "load every domain; check the new files against the mesh's policies"),
        (f"mesh build --domain {plan.domain}", "materialize its products and publish their ports"
         + ("; its inputs' ports must be published" if len(order) > 1 else "")),
        ("mesh dev", f"the Dagster UI (dagster dev on workspace.yaml), {plan.domain} included"),
    ]
    console.print("next:")
    width = max(len(command) for command, _ in steps)
    for command, why in steps:
        console.print(f"  {escape(command.ljust(width))}  [dim]# {escape(why)}[/]", soft_wrap=True)
    if len(order) > 1:
        command = "mesh build " + " ".join(f"--domain {d}" for d in order)
        console.print(f"  [dim]# from scratch, producers first:[/] {escape(command)}", soft_wrap=True)


@new_app.command("domain")
def new_domain(
    name: Annotated[str, typer.Argument(help="The domain's name, snake_case: its folder domains/NAME, code location and dbt project.", show_default=False)],
    kind: Annotated[str, typer.Option("--kind", help="source-aligned, aggregate or consumer-aligned.")] = "source-aligned",
    dbt: Annotated[bool, typer.Option("--dbt/--python", help="Build the products with a dbt project (dbt_projects/NAME/), or as Python @product functions.")] = False,
    product: Annotated[str, typer.Option("--product", help="Name of the example product.")] = "example_records",
    inputs: InputsOption = None,
    team: Annotated[Optional[str], typer.Option("--team", help="Owner team, snake_case (default: the domain's name).", show_default=False)] = None,
    contact: Annotated[Optional[str], typer.Option("--contact", help="Owner contact e-mail (default: NAME@mesh.example).", show_default=False)] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="What the domain owns, for domain.yaml.", show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Create a domain with one example product, ready to validate and build.

    Writes domains/NAME/ (domain.yaml, definitions.py, products/, contracts/), an example product
    with a full ODCS contract, a dbt project dbt_projects/NAME/ with --dbt, and the domain's code
    location in workspace.yaml. Without --input the example generates a few fixed rows."""
    from mesh_platform.cli.scaffold.generate import plan_new_domain  # the scaffold (contracts, policies) loads only when a command runs

    root = _root(project)
    _run(lambda: plan_new_domain(root, name, kind=kind, dbt=dbt, team=team, contact=contact, description=description,
                                 product=product, inputs=inputs or []))


@new_app.command("product")
def new_product(
    domain: Annotated[str, typer.Argument(help="The existing domain that owns the product.", show_default=False)],
    name: Annotated[str, typer.Argument(help="The product's name, snake_case.", show_default=False)],
    inputs: InputsOption = None,
    dbt: Annotated[Optional[bool], typer.Option("--dbt/--python", help="A dbt model or a Python @product function (default: dbt in a domain with a dbt project, else Python).", show_default=False)] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="What the product holds, for its descriptor (default: what the example computes).", show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Add a product to an existing domain, ready to validate and build.

    Writes new files only: its descriptor, a full ODCS contract and its implementation, a Python
    module with its @product function (found by the domain, no list to edit) or a dbt model (its
    yml, the contract's columns and the input ports, generated by the platform). Inputs must
    exist and be readable by the domain."""
    from mesh_platform.cli.scaffold.generate import plan_new_product  # the scaffold (contracts, policies) loads only when a command runs

    root = _root(project)
    implementation = None if dbt is None else ("dbt" if dbt else "python")
    _run(lambda: plan_new_product(root, domain, name, inputs=inputs or [], implementation=implementation,
                                  description=description))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `mesh` CLI."""
    app.add_typer(new_app, name="new")
