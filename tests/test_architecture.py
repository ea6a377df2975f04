"""The platform's structure holds: layers checked by import-linter, no import cycle at all, and a
function-local import only where a heavy library is loaded lazily, with its reason beside it."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "platform" / "mesh_platform"
LAYERS = ["model", "runtime", "orchestration", "cli"]


def test_the_platform_has_no_import_cycle():
    # grimp reads every import statement, the ones inside functions included.
    graph = grimp.build_graph("mesh_platform")
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i != "mesh_platform"} for m in graph.modules}
    try:
        TopologicalSorter(edges).prepare()  # the same check the mesh's own dependency order uses
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_every_platform_module_sits_in_a_layer():
    # The package's own __init__ (the three names domains use) and the layer packages, nothing else.
    loose = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))) == sorted(LAYERS)


def test_lint_imports_keeps_every_contract():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], capture_output=True, text=True, cwd=PACKAGE.parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _local_imports_without_reason(path: Path, base: Path = PACKAGE.parent) -> list[str]:
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
                    missing.append(f"{path.relative_to(base)}:{first}")
                block = []
    return missing


def test_a_function_local_import_says_why():
    missing = [m for p in sorted(PACKAGE.rglob("*.py")) for m in _local_imports_without_reason(p)]
    assert missing == []


def test_the_reason_check_flags_a_bare_local_import(tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text("def f():\n    import json\n    return json\n\n\ndef g():\n    import csv  # only when asked\n    return csv\n")
    assert _local_imports_without_reason(bare, base=tmp_path) == ["bare.py:2"]
