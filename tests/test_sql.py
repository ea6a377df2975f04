"""`mesh sql --as`: a DuckDB session over the ports, as one domain sees them — allowed products
readable, personal columns masked, other products refused with the access policy's message; it
opens with what loads, and an operator's `--as` is said and recorded. (Escapes from the session:
tests/test_sql_sealed.py.)"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import subprocess

import pytest

from tests.conftest import BIN, ROOT, copy_project, mesh_env, private_home, run_mesh

TOKEN = re.compile(r"[0-9a-f]{32}")


def sql(home, *args: str) -> subprocess.CompletedProcess:
    return run_mesh(["sql", *args], home)


def test_an_allowed_product_reads_as_a_view(built_mesh):
    home, _ = built_mesh
    result = sql(home, "--as", "punctuality", "--json", "-c",
                 "select carrier, count(*) as flights from flight_operations.flights group by carrier order by flights desc limit 1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"carrier": "UA", "flights": 58665}]


def test_a_personal_column_is_masked_for_a_reader_outside_the_allow_list(built_mesh):
    home, _ = built_mesh
    query = "select passenger_email, member_id from loyalty.bookings order by booking_id limit 20"
    masked = json.loads(sql(home, "--as", "customer_insights", "--json", "-c", query).stdout)
    raw = json.loads(sql(home, "--as", "loyalty", "--json", "-c", query).stdout)
    assert [r["member_id"] for r in masked] == [r["member_id"] for r in raw]
    assert all(TOKEN.fullmatch(r["passenger_email"]) for r in masked)
    assert all("@" in r["passenger_email"] for r in raw)  # the owner sees its own data


def test_a_product_the_domain_may_not_read_is_refused(built_mesh):
    home, _ = built_mesh
    refused = sql(home, "--as", "punctuality", "-c", "select count(*) from loyalty.bookings")
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert "domain 'punctuality' may not read loyalty.bookings: it is internal, readable only by customer_insights, loyalty [policy readable-inputs]" in message
    public_only = sql(home, "-c", "select count(*) from loyalty.members")
    assert public_only.returncode == 1 and "a session without --as sees public products only" in " ".join(public_only.stderr.split())


def test_the_interactive_session_reads_queries_until_quit(built_mesh):
    home, _ = built_mesh
    session = subprocess.run(
        [str(BIN / "mesh"), "sql", "--as", "customer_insights", "--json"], cwd=ROOT, env=mesh_env(home),
        input=".tables\nselect count(*) as n\n  from loyalty.bookings;\nselect * from loyalty.members;\nselect 1 as one;\n.quit\n",
        capture_output=True, text=True, timeout=120,
    )
    assert session.returncode == 0, session.stderr
    assert "loyalty.bookings  (masked: passenger_email)" in session.stdout
    assert "loyalty.members" not in session.stdout.split('"n"')[0]  # not listed: customer_insights may not read it
    assert '"n": 10000' in session.stdout and '"one": 1' in session.stdout  # the session goes on after a refusal
    assert "may not read loyalty.members" in " ".join(session.stderr.split())


BROKEN = {  # one broken file of fleet's, and the name the session gives what it could not attach
    "contract": ("domains/fleet/contracts/aircraft.odcs.yaml", "fleet.aircraft"),
    "descriptor": ("domains/fleet/domain.yaml", "domain fleet"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_session_opens_with_what_loads_and_names_what_did_not(built_mesh, tmp_path, broken):
    home, _ = built_mesh
    project = copy_project(tmp_path / "project")
    path, name = BROKEN[broken]
    (project / path).write_text("name: [\n")  # not YAML at all
    session = subprocess.run(
        [str(BIN / "mesh"), "sql", "--project", str(project), "--json"], cwd=ROOT, env=mesh_env(home),
        input=".tables\nselect count(*) as n from flight_operations.flights;\nselect * from fleet.aircraft;\n.quit\n",
        capture_output=True, text=True, timeout=120,
    )
    assert session.returncode == 0, session.stderr
    assert f"not attached: {name}: it did not load: {project / path}" in session.stderr
    assert f"{name}  (not attached: it did not load)" in session.stdout  # .tables lists it too
    assert '"n": 336776' in session.stdout  # the other products answer
    assert f"error: fleet.aircraft is not in this session: it did not load: {project / path}" in session.stderr


def test_impersonation_is_said_and_recorded_without_the_query(built_mesh, tmp_path):
    home = private_home(built_mesh, tmp_path / "mesh_home")  # its access log gets only this test's lines
    log = home / "logs" / "access.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    address = "jane.roe@example.com"  # a literal in a query may be personal data: never recorded
    query = f"select count(*) as n from loyalty.bookings where passenger_email <> '{address}'"
    runs = [sql(home, "--as", "customer_insights", "--json", "-c", query) for _ in range(2)]
    denied = sql(home, "--as", "punctuality", "-c", "select count(*) from loyalty.bookings")  # an attempt is recorded too
    public = sql(home, "-c", "select count(*) from flight_operations.flights")  # no --as: no impersonation
    assert [r.returncode for r in (*runs, denied, public)] == [0, 0, 1, 0]
    assert f"impersonating domain 'customer_insights': an operator's session reading what customer_insights reads" in runs[0].stderr
    assert f"recorded (fingerprint and products, never its text) in {log}" in runs[0].stderr
    assert "impersonat" not in public.stderr

    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines()[before:]]
    assert [(e["impersonated_domain"], e["products"]) for e in entries] == [
        ("customer_insights", ["loyalty.bookings"]), ("customer_insights", ["loyalty.bookings"]), ("punctuality", ["loyalty.bookings"]),
    ]
    first, again, other = entries
    assert set(first) == {"time", "os_user", "impersonated_domain", "query_fingerprint", "products"}
    assert first["os_user"] == getpass.getuser()
    assert dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(first["time"]) < dt.timedelta(minutes=5)
    assert re.fullmatch(r"[0-9a-f]{16}", first["query_fingerprint"])
    assert first["query_fingerprint"] == again["query_fingerprint"] != other["query_fingerprint"]
    assert address not in text and "passenger_email" not in text and "select" not in text.lower()
    assert log.stat().st_mode & 0o777 == 0o600
