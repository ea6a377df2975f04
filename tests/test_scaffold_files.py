"""The scaffold's pieces on their own: the two edits `mesh new domain` makes to files people also
edit (workspace.yaml, pyproject.toml), on the shapes people write, and the examples it writes,
which compute what their contracts say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mesh_platform.cli.scaffold.workspace_files import add_dg_project, add_location

# -- the edits: comments and layout kept, or left to a person -------------------------------------------

ENTRY = "  - python_module:\n      module_name: domains.x.definitions\n      working_directory: .\n      location_name: x\n"
PYPROJECT = '[project]\nname = "m"\n\n[tool.dg]\ndirectory_type = "workspace"\n\n[[tool.dg.workspace.projects]]\npath = "a"\n'
NEW_PROJECT = '\n[[tool.dg.workspace.projects]]\npath = "domains/x"\n'


@pytest.mark.parametrize("text, expected", [
    (PYPROJECT, PYPROJECT + NEW_PROJECT),
    ("# the mesh\n" + PYPROJECT.replace('path = "a"', 'path = "a"  # the first domain'),
     "# the mesh\n" + PYPROJECT.replace('path = "a"', 'path = "a"  # the first domain') + NEW_PROJECT),
    ('[tool.dg]\ndirectory_type = "workspace"\nworkspace = {projects = [{path = "a"}]}\n', None),  # inline: left to a person
    ('[project]\nname = "m"\n', None),
    ("not = [toml", None),
])
def test_dg_projects_are_appended_keeping_the_text(text, expected):
    assert add_dg_project(text, "domains/x") == expected


def test_a_dg_project_goes_after_the_last_one_even_with_tables_below():
    text = PYPROJECT + "\n# about the next table\n[tool.ruff]\nline-length = 120\n"
    result = add_dg_project(text, "domains/x")
    assert result is not None and result.index('path = "domains/x"') < result.index("[tool.ruff]")
    assert "# about the next table" in result and result.endswith("[tool.ruff]\nline-length = 120\n")


@pytest.mark.parametrize("text, expected", [
    ("# keep me\nload_from:\n  - python_module:\n      module_name: a.b  # and me\n",
     "# keep me\nload_from:\n  - python_module:\n      module_name: a.b  # and me\n" + ENTRY),
    ("load_from: []\n", "load_from:\n" + ENTRY),
    ("load_from:\n", "load_from:\n" + ENTRY),
    ("load_from: {python_module: {module_name: a.b}}\n", None),  # not a list: left to a person
    ("workspace: {}\n", None),
    ("load_from: [\n", None),
])
def test_workspace_entries_are_appended_keeping_the_text(text, expected):
    assert add_location(text, "domains.x.definitions", "x") == expected


def test_the_demo_workspace_gets_one_entry_more_and_nothing_else():
    root = Path(__file__).resolve().parents[1]
    text = (root / "workspace.yaml").read_text()
    assert add_location(text, "domains.x.definitions", "x") == text + ENTRY
    data = yaml.safe_load(add_location(text, "domains.x.definitions", "x"))
    assert data["load_from"][-1] == {"python_module": {"module_name": "domains.x.definitions", "working_directory": ".", "location_name": "x"}}


# -- the examples compute what their contracts say -------------------------------------------------------

def test_summary_examples_in_pandas_and_sql_agree_with_their_contract(tmp_path):
    """Grouped on the first input's global identifier; an input with the same column counted per
    value (0 when none), one without it counted whole; no usable column: one row of counts."""
    import duckdb
    import pandas as pd

    from mesh_platform.cli.scaffold import design as d
    from mesh_platform.cli.scaffold.contract import contract_text
    from mesh_platform.cli.scaffold.examples import summary_python, summary_sql
    from mesh_platform.model.contracts.model import contract_from_mapping
    from mesh_platform.model.mesh import Mesh
    from mesh_platform.runtime.ports.conform import conform
    from mesh_platform.runtime.ports.formats import to_arrow
    from tests.helpers.mini_mesh import base_mesh, column, contract, write_mesh

    files = base_mesh()
    lab = files["domains/lab"]
    lab["products/visits.yaml"] = {"name": "visits", "description": "Technician visits to each airport station, one row each."}
    lab["contracts/visits.odcs.yaml"] = contract("lab", "visits", [
        column("station", required=True, businessName="airport_code", relationships=[{"to": "shared.airports.faa"}]),
        column("visit_note")])
    lab["products/notes.yaml"] = {"name": "notes", "description": "Free notes the lab keeps, with no key at all."}
    lab["contracts/notes.odcs.yaml"] = contract("lab", "notes", [column("note_text")])
    mesh = Mesh.load(write_mesh(tmp_path / "mesh", files))
    readings, visits, notes = (mesh.find("lab", p) for p in ("readings", "visits", "notes"))
    frames = {
        "readings": pd.DataFrame({"station": ["EWR", "EWR", "JFK"], "reading_value": [1.0, 2.0, None]}),
        "visits": pd.DataFrame({"station": ["JFK", "LGA"], "visit_note": ["a", "b"]}),
        "notes": pd.DataFrame({"note_text": ["x", "y", "z"]}),
    }

    for inputs, columns, expected in [
        ([readings, visits, notes], ["station", "readings_rows", "visits_rows", "notes_rows"],
         {("EWR", 2, 0, 3), ("JFK", 1, 1, 3)}),
        ([notes, readings], ["notes_rows", "readings_rows"], {(3, 3)}),
    ]:
        design = d.summary_design("summary", inputs, mesh)
        assert [c.name for c in design.columns] == columns
        if design.key is not None:
            assert design.key.relationships == ("shared.airports.faa",) and design.key.business_name == "airport_code"
        odcs = contract_from_mapping(yaml.safe_load(contract_text("other", "summary", design, "t", "t@mesh.example", True)), Path("x"))
        namespace: dict = {}
        exec(summary_python("Other", "summary", design), namespace)
        batch = conform(to_arrow(namespace["summary"].fn(**{p.name: frames[p.name] for p in inputs}), "x"), odcs.arrow_schema(), "x").read_all()
        assert set(map(tuple, batch.to_pandas().itertuples(index=False))) == expected
        with duckdb.connect() as con:
            for name, frame in frames.items():
                con.register(name, frame)
            sql = summary_sql("other", "summary", design, {p.id: p.name for p in inputs})
            assert set(con.sql(sql).fetchall()) == expected
