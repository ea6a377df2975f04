"""The platform's structure holds: layers checked by import-linter, no import cycle at all, and a
function-local import only where a heavy library is loaded lazily, with its reason beside it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "platform" / "mesh_platform"
LAYERS = ["model", "runtime", "orchestration", "cli"]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    # The check below is only as good as this finder: a two-module and a three-module cycle.
    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert _cycles(edges) == [["a", "b"], ["c", "d", "e"]]


def test_the_platform_has_no_import_cycle():
    # grimp reads every import statement, the ones inside functions included.
    graph = grimp.build_graph("mesh_platform")
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i != "mesh_platform"} for m in graph.modules}
    assert _cycles(edges) == []


def test_every_platform_module_sits_in_a_layer():
    # The package's own __init__ (the three names domains use) and the layer packages, nothing else.
    loose = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))) == sorted(LAYERS)


def test_lint_imports_keeps_every_contract():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], capture_output=True, text=True, cwd=PACKAGE.parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _local_imports_without_reason(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    missing = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        block: list[ast.stmt] = []
        for statement in [*function.body, None]:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                block.append(statement)
                continue
            if block:
                first, last = block[0].lineno, block[-1].end_lineno
                said = any("#" in lines[n - 1] for n in range(first, last + 1)) or lines[first - 2].strip().startswith("#")
                if not said:
                    missing.append(f"{path.relative_to(PACKAGE.parent)}:{first}")
                block = []
    return missing


def test_a_function_local_import_says_why():
    missing = [m for p in sorted(PACKAGE.rglob("*.py")) for m in _local_imports_without_reason(p)]
    assert missing == []


def test_the_reason_check_flags_a_bare_local_import(tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text("def f():\n    import json\n    return json\n\n\ndef g():\n    import csv  # only when asked\n    return csv\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "pkg"
    try:
        assert _local_imports_without_reason(bare) == ["bare.py:2"]
    finally:
        PACKAGE = saved
