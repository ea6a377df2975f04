"""`mesh --version`: the mesh platform's version and the two it runs on, read from the installed
distributions (what a bug report needs, without importing Dagster or dbt)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

# (what to call it, its distribution's name)
_DISTRIBUTIONS = (("mesh-platform", "mesh-platform"), ("dagster", "dagster"), ("dbt-core", "dbt-core"))


def versions_line() -> str:
    """`mesh-platform 0.1.0, dagster 1.13.27, dbt-core 1.11.16` (`not installed` for one missing)."""
    return ", ".join(f"{label} {_installed(name)}" for label, name in _DISTRIBUTIONS)


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def show_version(value: bool) -> None:
    """typer's eager callback: print the versions and stop before any command runs."""
    if value:
        print(versions_line())
        raise typer.Exit()
