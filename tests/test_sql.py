"""`mesh sql --as`: a DuckDB session over the ports, as one domain sees them — allowed products
readable, personal columns masked, other products refused with the access policy's message."""

from __future__ import annotations

import json
import re
import subprocess

from tests.conftest import BIN, ROOT, mesh_env, run_mesh

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
