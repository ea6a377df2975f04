"""What every `mesh` command shares: its two consoles, the --project option, and one-line failures."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from mesh_platform.model.names import parse_product_id
from mesh_platform.runtime.settings import find_project_root

# Piped or logged output with no COLUMNS is this wide, not rich's 80: a table of product ids fits.
PIPED_WIDTH = 120


def _width_of(stream) -> int | None:
    """None (rich decides: the terminal's size, or COLUMNS) unless `stream` is piped with no COLUMNS."""
    sized = os.environ.get("COLUMNS") or (stream is not None and stream.isatty())
    return None if sized else PIPED_WIDTH


# Bound to the real streams: `mesh build` sends the runs' own output (dbt logs) to a log file.
console = Console(file=sys.__stdout__, width=_width_of(sys.__stdout__))
errors = Console(file=sys.__stderr__)

ProjectOption = Annotated[
    Optional[Path], typer.Option("--project", help="The mesh project folder (default: found upwards from here).")
]


def wide(out: Console) -> Console:
    """Piped or logged output gets one line per row, not a dumb terminal's 80 columns (unless
    COLUMNS says otherwise)."""
    if out.is_terminal or os.environ.get("COLUMNS"):
        return out
    return Console(file=out.file, width=max(out.width, 240))


def print_table(out: Console, table: Table) -> None:
    """Print `table` without ever breaking a word in piped or logged output: name columns are
    `no_wrap`, and no column is narrower than its longest word, even at COLUMNS=80; a row too wide
    for the width is then longer than it, never cut (a script or a log greps
    `customer_insights.member_delay_exposure` whole). A terminal keeps rich's own fitting."""
    if out.is_terminal:
        out.print(table)
        return
    options = out.options.update_width(10_000)
    for column in table.columns:
        cells = [column.header, *column.cells]
        longest_word = max(Measurement.get(out, options, cell).minimum for cell in cells)
        column.min_width = max(column.min_width or 0, longest_word)
    needed = out.measure(table, options=options).minimum
    if needed > out.width:  # rich would squeeze every column, identifiers too, to fit the width
        out = Console(file=out.file, width=needed, color_system=out.color_system, force_terminal=False)
    out.print(table, crop=False)


def fail(message: str, hint: str | None = None) -> NoReturn:
    # soft_wrap: one line whatever the terminal's width, so scripts and CI logs can grep it.
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        errors.print(f"[dim]hint: {escape(hint)}[/]", soft_wrap=True)
    raise typer.Exit(code=1)


def project_root(project: Path | None) -> Path:
    try:
        return find_project_root(project)
    except FileNotFoundError as exc:
        fail(str(exc), "run inside a mesh project or pass --project")


def find_product(mesh, product: str):
    """The product a user typed, or one line saying what exists instead."""
    try:
        domain, name = parse_product_id(product)
    except ValueError as exc:
        fail(str(exc))
    found = mesh.find(domain, name)
    if found is None:
        hint = mesh.closest(product)
        fail(f"no product {product!r} in this mesh", f"did you mean {', '.join(hint)}?" if hint else "run `mesh validate` to list products")
    return found
