"""docs/tutorial.md's commands, exactly as written, in a copy of the project: each succeeds and
the products it promises are published and readable."""

from __future__ import annotations

import json
import re
import shlex

from tests.conftest import ROOT, copy_project, run_mesh

TUTORIAL = ROOT / "docs" / "tutorial.md"


def tutorial_commands() -> list[list[str]]:
    text = TUTORIAL.read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def test_the_tutorial_runs_as_written(tmp_path):
    root = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    commands = tutorial_commands()
    assert [c[:2] for c in commands][:3] == [["mesh", "new"], ["mesh", "validate"], ["mesh", "build"]]
    outputs = []
    for command in commands:
        assert command[0] == "mesh"
        result = run_mesh(command[1:], home, cwd=root)
        assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    counts = json.loads(run_mesh(["sql", "--as", "inventory", "--json", "-c",
                                  "select * from inventory.departures_by_origin order by 1"], home, cwd=root).stdout)
    assert {row["origin"] for row in counts} == {"EWR", "JFK", "LGA"}
    assert sum(v for row in counts for k, v in row.items() if k != "origin") == 336_776  # every departure counted once
    assert "inventory.departures_by_origin" in outputs[6] and "inventory.example_records" in outputs[6]  # the catalog
