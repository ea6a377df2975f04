"""No personal value of a batch lands in anything the platform records: check samples and values,
error messages, the run history, logs, alerts, the CLI's output and the catalog."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import PublishError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.policies import Governance, PolicyReport, combine
from mesh_platform.model.redaction import HIDDEN, LOOKS_PERSONAL, looks_personal, redact_value, scrub, without_values
from mesh_platform.model.rules import rules_for
from mesh_platform.orchestration.automation import describe_failure, record_alert
from mesh_platform.orchestration.build import instance_for
from mesh_platform.orchestration.checks import check_results
from mesh_platform.runtime.global_policies import GLOBAL_POLICIES
from mesh_platform.runtime.ports.conform import conform_batch
from mesh_platform.runtime.ports.formats import to_arrow
from mesh_platform.runtime.publishing import violation
from mesh_platform.runtime.quality.engine import NOT_SHOWN, audit, result_metadata
from tests.conftest import copy_project, run_mesh
from tests.helpers.mini_mesh import column, edited, write_mesh

# -- the content rule: what looks personal -------------------------------------------------------

PERSONAL_LOOKING = [
    "john.doe@example.com",
    "diamond-jane.roe+tier@example.org",  # an address inside an enum-like value
    "call me: a.b@mail.example.co.uk, thanks",
    "+44 20 7946 0958",
    "(212) 555-0100",
    "ring 555-0100 after six",
    "call 555-0100, 555-0101 or 555-0102",
    "lines 555-0100 555-0101 555-0102 555-0103",  # several numbers in a row are one long group
    "4111 1111 1111 1111",  # a card number as people write it
    "4111-1111-1111-1111",
    "4111111111111111",
    "account 123456789",  # nine digits in a row: an account, a national id
    "diamond-5551234567",
]
HARMLESS = [
    "ping @ops", "@home", "N12345", "ORD-2024-000123", "2013-01-01", "2013-01-01 05:17:00",
    "2013-01-01T05:17:00.123", "version 2.0.0", "336776 rows", "12.5", "JFK", "", "diamond",
    "2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d", "1234567 failing rows",
]


@pytest.mark.parametrize("text", PERSONAL_LOOKING)
def test_addresses_phone_and_card_numbers_look_personal(text):
    assert looks_personal(text)
    assert redact_value(text) == LOOKS_PERSONAL  # a cell goes as a whole: a name may sit beside the address


@pytest.mark.parametrize("text", HARMLESS)
def test_dates_codes_and_handles_do_not(text):
    assert not looks_personal(text)
    assert redact_value(text) == text


def test_numbers_are_shown_whatever_their_size():
    # Ids make a sample useful; a column keeping phone numbers as numbers must be classified.
    assert [redact_value(v) for v in (5551234567, 12.5, None, True)] == [5551234567, 12.5, None, True]


@pytest.mark.parametrize("cell", ["a" * 200_000, "1." * 100_000, "1-" * 100_000 + "x", "x@" + "a" * 200_000, "'" * 200_001])
def test_a_long_cell_is_judged_in_linear_time(cell):
    # A quadratic pattern took 6 s on 20,000 characters: 200,000 would stall an audit for minutes.
    started = time.perf_counter()
    looks_personal(cell), scrub(cell), without_values(cell)
    assert time.perf_counter() - started < 5


def test_a_message_keeps_its_words_and_loses_what_looks_personal():
    message = "row of jane.roe@example.org (phone +44 20 7946 0958) failed on 2013-01-01 in 336776 rows"
    assert scrub(message) == f"row of {HIDDEN} (phone {HIDDEN}) failed on 2013-01-01 in 336776 rows"
    assert scrub("lines 555-0100 555-0101 555-0102 555-0103 and 212-555-0100") == f"lines {HIDDEN} and {HIDDEN}"


def test_an_engine_error_loses_every_quoted_value_even_a_name():
    with duckdb.connect() as con, pytest.raises(duckdb.Error) as raised:
        con.sql("SELECT CAST(note AS INTEGER) FROM (VALUES ('Ada Lovelace')) AS t(note)").fetchall()
    assert "Ada Lovelace" in str(raised.value)  # what DuckDB says
    message = without_values(str(raised.value))
    assert "Ada Lovelace" not in message
    assert f"Could not convert string '{HIDDEN}' to INT32" in message and "\n" not in message


# -- the e-mail policy: positions, never the address ------------------------------------------------


def _policy_rules(tmp_path):
    root = write_mesh(tmp_path, edited(lambda f: f["domains/lab"]["contracts/readings.odcs.yaml"]["schema"][0]["properties"].append(column("note"))))
    product = Mesh.load(root).find("lab", "readings")
    rules = Governance(combine(GLOBAL_POLICIES, (), "lab"), PolicyReport()).audit_rules(product)
    return [r for r in rules if r.name.startswith("policy_")]


def test_the_email_policy_reports_the_column_and_row_positions_never_the_address(tmp_path, mesh_home):
    rules = _policy_rules(tmp_path)
    # Many small chunks and rows to scan in parallel: the positions must still be the batch's.
    rows = 1_200_000
    found_at = [3, 7, 250_001, 999_998]
    notes: list[str | None] = [None] * rows
    for i, position in enumerate(found_at):
        notes[position] = f"write to person{i}.marker@example.org"
    batch = pa.Table.from_batches(pa.table({
        "station": pa.array(["JFK"] * rows), "reading_value": pa.array([1.0] * rows), "note": pa.array(notes, pa.string()),
    }).to_batches(max_chunksize=10_000))
    with duckdb.connect() as con:
        con.register("batch", batch)
        results = {r.rule.name: r for r in audit(con, "batch", rules, personal_columns=[])}

    found = results["policy_no_unclassified_email_note"]
    assert not found.passed and found.failing_rows == 4
    assert found.sample == [{"row": p, "column": "note", "value": NOT_SHOWN} for p in found_at]
    recorded = json.dumps([dg.MetadataValue.json(result_metadata(found)["failing_sample"]).data, found.summary()])
    assert "marker" not in recorded and "@" not in recorded


# -- every other sample, value and error of a failing batch ----------------------------------------

MEMBERS = """\
apiVersion: v3.2.0
kind: DataContract
id: urn:test:members
version: 1.0.0
status: active
schema:
  - name: members
    quality:
      - {name: first_note, type: sql, query: "SELECT min(note) FROM ${table}", mustBe: "ok"}
      - {name: notes_are_numbers, type: sql, query: "SELECT count(*) FROM ${table} WHERE CAST(note AS INTEGER) > 0", mustBe: 0}
    properties:
      - {name: member_id, logicalType: integer, primaryKey: true}
      - {name: tier, logicalType: string, enum: [{value: gold}, {value: silver}]}
      - {name: code, logicalType: string, logicalTypeOptions: {pattern: "[A-Z]{3}"}}
      - {name: miles, logicalType: integer, logicalTypeOptions: {minimum: 0}}
      - {name: note, logicalType: string}
      - {name: email, logicalType: string, classification: pii}
"""


def test_failing_samples_hide_what_looks_personal_and_keep_the_rest(tmp_path):
    path = tmp_path / "members.odcs.yaml"
    path.write_text(MEMBERS)
    contract = parse_contract(path)
    batch = pa.table({
        "member_id": [1, 2, 3, 4],
        "tier": ["gold", "diamond-ann.lee@example.org", "silver", "gold"],
        "code": ["ABC", "ABC", "+44 20 7946 0958", "ABC"],
        "miles": [10, 20, 30, -5],
        "note": ["ok", "Ann Lee, ann.lee@example.org", "ok", "card 4111 1111 1111 1111"],
        "email": ["a@example.org", "ann.lee@example.org", "c@example.org", "d@example.org"],
    })
    with duckdb.connect() as con:
        con.register("batch", batch)
        results = {r.rule.name: r for r in audit(con, "batch", rules_for(contract), personal_columns=contract.personal_columns)}

    [tier] = results["tier_accepted_values"].sample
    assert tier["tier"] == LOOKS_PERSONAL and tier["note"] == LOOKS_PERSONAL  # by content
    assert tier["email"] == "••• (personal data)"  # by classification
    assert (tier["member_id"], tier["code"], tier["miles"]) == (2, "ABC", 20)  # the rest stays useful
    [code] = results["code_pattern"].sample
    assert code["code"] == LOOKS_PERSONAL and code["member_id"] == 3 and code["note"] == "ok"
    [miles] = results["miles_in_range"].sample
    assert miles["miles"] == -5 and miles["note"] == LOOKS_PERSONAL
    assert results["first_note"].value == LOOKS_PERSONAL and not results["first_note"].passed
    assert f"'{HIDDEN}'" in results["notes_are_numbers"].error

    everything = json.dumps([
        [dict(result_metadata(r)) for r in results.values()],
        [c.description for c in check_results(dg.AssetKey(["club", "members"]), results.values())],
        str(violation("club.members", list(results.values()))),
    ], default=str)
    for raw in ("ann.lee", "Ann Lee", "7946", "4111", "a@example.org"):
        assert raw not in everything


def test_a_value_arrow_cannot_convert_or_cast_is_not_named(tmp_path):
    mixed = pd.DataFrame({"miles": [10, "ann.lee@example.org"]})
    with pytest.raises(PublishError) as raised:
        to_arrow(mixed, "club.members")
    assert "club.members: its DataFrame cannot be turned into a table" in str(raised.value)
    assert "column miles" in str(raised.value) and "ann.lee" not in str(raised.value)

    names = pa.record_batch({"joined": pa.array(["2024-01-01", "Ann Lee"])})
    with pytest.raises(PublishError) as raised:
        conform_batch(names, pa.schema([pa.field("joined", pa.date32())]), "club.members")
    assert "column 'joined' of type string cannot be stored as date32[day]" in str(raised.value)
    assert "Ann Lee" not in str(raised.value)


# -- end to end: a scaffolded domain, the real `mesh build`, every artifact ---------------------------


def _edit(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"{path.name} no longer holds {before!r}: the scaffold changed"
    path.write_text(text.replace(before, after, 1))


NOTE_COLUMN = """\
      - name: note
        logicalType: string
        physicalType: VARCHAR
        description: Free text the desk clerk typed about the record.
        quality:
          - {name: longest_note, type: sql, query: "SELECT max(note) FROM ${table}", mustBe: ok, description: Notes stay short.}
          - {name: notes_are_numbers, type: sql, query: "SELECT count(*) FROM ${table} WHERE CAST(note AS INTEGER) > 0", mustBe: 0, description: No note is a number.}
      - name: quantity
"""


def _files_holding(root: Path, needles: list[bytes]) -> dict[str, list[str]]:
    hits = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = [n.decode() for n in needles if n in data]
        if found:
            hits[str(path.relative_to(root))] = found
    return hits


def test_personal_values_in_unclassified_columns_are_refused_and_recorded_nowhere(tmp_path, monkeypatch):
    project = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    monkeypatch.setenv("MESH_HOME", str(home))
    token = uuid.uuid4().hex
    address = f"zq.marker+{token}@example.org"
    digits = f"{uuid.UUID(token).int % 10**8:08d}"
    phone = f"+44 20 {digits[:4]} {digits[4:]}"
    outputs = [run_mesh(["new", "domain", "front_desk"], home, cwd=project),
               run_mesh(["new", "product", "front_desk", "contacts"], home, cwd=project)]
    assert all(o.returncode == 0 for o in outputs), [o.stdout + o.stderr for o in outputs]

    desk = project / "domains" / "front_desk"
    # An address in free text, one inside an enum-constrained column, a phone number beside it.
    _edit(desk / "example_records.py", '"category": ["standard", "priority", "bulk", "standard", "priority", "bulk"],',
          f'"category": ["standard", "priority", "bulk", "diamond-{address}", "priority", "bulk"],\n'
          f'            "note": ["{address} asked for a call", "ok", None, "ring {phone}", "fine", "ok"],')
    _edit(desk / "contracts" / "example_records.odcs.yaml", "      - name: quantity\n", NOTE_COLUMN)
    # A column Arrow cannot convert: its error would quote the address.
    _edit(desk / "contacts.py", '"quantity": [3, 1, 40, 2, 1, 25],', f'"quantity": [3, "{address}", 40, 2, 1, 25],')

    build = run_mesh(["build", "--domain", "front_desk"], home, cwd=project)
    outputs.append(build)
    assert build.returncode == 1, build.stdout + build.stderr
    errors = " ".join(build.stderr.split())
    assert "front_desk.example_records was not published" in errors and "policy_no_unclassified_email_note" in errors
    assert "front_desk.contacts: its DataFrame cannot be turned into a table" in errors
    for product in ("example_records", "contacts"):
        assert not (home / "storage" / "front_desk" / product).exists()

    # The run history holds the verdicts, with their samples: positions, and the harmless values.
    instance = instance_for(project)
    [run] = instance.get_runs(dg.RunsFilter(job_name="build_front_desk"))
    checks = {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    assert checks["policy_no_unclassified_email_note"].metadata["failing_sample"].data == [{"row": 0, "column": "note", "value": NOT_SHOWN}]
    [enum_row] = checks["category_accepted_values"].metadata["failing_sample"].data
    assert enum_row["record_id"] == 4 and enum_row["category"] == enum_row["note"] == LOOKS_PERSONAL
    assert checks["longest_note"].metadata["value"].value == LOOKS_PERSONAL
    assert not checks["notes_are_numbers"].passed

    # The failure sensor's alert, from the same run records.
    failures = [e.dagster_event for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
    alerts = record_alert(project, describe_failure("front_desk", run, instance, failures))
    assert "front_desk.example_records was not published" in alerts.read_text()

    catalog = run_mesh(["catalog", "--json"], home, cwd=project)
    site = run_mesh(["catalog", "--html", str(home / "site")], home, cwd=project)
    outputs += [catalog, site]
    assert catalog.returncode == 0 and site.returncode == 0, catalog.stderr + site.stderr
    [entry] = [e for e in json.loads(catalog.stdout) if e["product"] == "front_desk.example_records"]
    assert entry["checks"]["status"] == "failed"
    assert (home / "site" / "index.html").exists()

    needles = [token.encode(), phone.encode(), phone.replace(" ", "").encode()]
    assert {"build.log", "alerts.log"} <= {p.name for p in home.rglob("*")}
    assert any(p.suffix == ".db" and b"policy_no_unclassified_email_note" in p.read_bytes() for p in home.rglob("*.db"))
    assert _files_holding(home, needles) == {}
    for output in outputs:  # the CLI's text may be wrapped anywhere: compare without white space
        shown = re.sub(r"\s", "", output.stdout + output.stderr)
        assert not [n for n in needles if re.sub(rb"\s", b"", n).decode() in shown], output.args


def test_a_dbt_error_that_quotes_a_value_leaves_it_out_of_the_run_history_and_the_cli(tmp_path):
    project = copy_project(tmp_path / "project")
    home = tmp_path / "home"
    token = uuid.uuid4().hex
    # upper(): the value exists only at run time, so the model's own SQL (compiled into
    # MESH_HOME) does not hold it.
    _edit(project / "dbt_projects" / "fleet" / "models" / "aircraft.sql", "    cast(engines as integer) as engines,",
          f"    cast(case when tailnum = 'N10156' then upper('zq{token}') || tailnum else cast(engines as varchar) end as integer) as engines,")
    build = run_mesh(["build", "--domain", "shared", "--domain", "fleet"], home, cwd=project)
    assert build.returncode == 1, build.stdout + build.stderr
    errors = " ".join(build.stderr.split())
    assert f"model.fleet.aircraft: Runtime Error in model aircraft (models/aircraft.sql) Conversion Error: Could not convert string '{HIDDEN}' to INT32" in errors
    needle = f"ZQ{token.upper()}"
    assert needle not in re.sub(r"\s", "", build.stdout + build.stderr)
    history = sorted((home / "dagster" / "history").rglob("*.db"))
    assert history and _files_holding(home / "dagster" / "history", [needle.encode()]) == {}
    # dbt's lines as re-printed into the step's compute log and build.log drop it too; dbt's own
    # files in the domain's private run folder (target/dbt.log, run_results.json) are the domain's,
    # like its DuckDB file that holds the data itself.
    assert _files_holding(home / "logs", [needle.encode()]) == {}
    compute_logs = home / "dagster" / "storage"
    assert any(compute_logs.rglob("*.out")) or any(compute_logs.rglob("*.err")), "no compute log was captured"
    assert _files_holding(compute_logs, [needle.encode()]) == {}
