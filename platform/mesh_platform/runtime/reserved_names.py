"""Names that are valid but poor choices for a domain or product: reserved words of the SQL
engine, and modules a domain package would shadow. Asked of the engine and of the installed
environment, so it lives in the runtime (the scaffold asks before it writes anything)."""

from __future__ import annotations

import functools
import pkgutil
import sys

from mesh_platform.model.names import is_valid_name

# The project's own top-level folders and packages: a domain of that name would shadow them.
PROJECT_MODULES = frozenset({"platform", "mesh_platform", "domains", "shared_assets", "dbt_projects", "tests"})


@functools.cache
def _installed_modules() -> frozenset[str]:
    return frozenset(module.name for module in pkgutil.iter_modules())


@functools.cache
def sql_keywords(reserved_only: bool = False) -> frozenset[str]:
    """The SQL engine's (DuckDB's) keywords, lower case; `reserved_only`: the ones a name can never
    be unquoted (a view of that name must be quoted in every query)."""
    import duckdb  # the engine loads only when a scaffold asks: `mesh --help` stays fast

    where = " WHERE keyword_category = 'reserved'" if reserved_only else ""
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT keyword_name FROM duckdb_keywords(){where}").fetchall()
    return frozenset(row[0].lower() for row in rows)


def sql_reserved_words() -> frozenset[str]:
    return sql_keywords(reserved_only=True)


def module_shadowed(name: str) -> str | None:
    """What importable module `name` would shadow, said in words, or None."""
    if name in PROJECT_MODULES:
        return f"the project's own {name!r}"
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return f"the Python standard library module {name!r}"
    if name in _installed_modules():
        return f"the installed module {name!r}"
    return None


def reserved_problem(name: str, modules: bool = True) -> str | None:
    """Why a valid mesh name is still a poor domain or product name, or None.

    Reserved SQL words would have to be quoted in every `mesh sql` query. `modules`: a domain is
    a code location and a package; a name that is already importable shadows that module."""
    if name in sql_reserved_words():
        return f"it is a reserved word of DuckDB's SQL (`mesh sql` would need it quoted everywhere)"
    shadowed = module_shadowed(name) if modules else None
    if shadowed:
        return f"it would shadow {shadowed}"
    return None


def suggested_names(name: str, kind: str, modules: bool = True) -> list[str]:
    """Names close to a refused one that are free: `select` -> `select_domain`, `selects`."""
    candidates = [f"{name}_{kind}", f"{name}s", f"{name}_data"]
    return [c for c in candidates if is_valid_name(c) and reserved_problem(c, modules) is None][:2]
