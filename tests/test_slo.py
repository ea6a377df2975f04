"""Measured SLOs end to end: after a real `mesh build` on a copy of the project, each SLA a
product breaches is a failed, non-blocking asset check in the mesh's Dagster instance and an
alert, in alerts.log and posted to the webhook a test starts; the SLO job re-measures products
that did not publish; a failed publish lowers availability and its alert reaches the webhook
without personal data; a webhook that fails or hangs fails nothing."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import current_mesh
from mesh_platform.orchestration.automation import failure_sensor, failure_sensor_name
from mesh_platform.orchestration.slo_checks import slo_job_name, slo_state
from mesh_platform.runtime.alert_settings import ALERT_WEBHOOK_ENV, WEBHOOK_TIMEOUT_SECONDS, alert_webhook
from mesh_platform.runtime.notifications import notify, post
from tests.conftest import BIN, copy_project, free_port, mesh_env

BREAK_ENV = "SLO_TEST_BREAK_MEMBERS"
PERSONAL = "jane.doe@example.org"
SLAS = {  # contract -> its SLAs in the test's copy
    "domains/loyalty/contracts/members.odcs.yaml": """\
  - {property: freshness, value: 20, unit: s}
  - {property: latency, value: 1, unit: d, element: members.joined_on}
  - {property: frequency, value: 20, unit: s}
  - {property: availability, value: 99.5, unit: percent}
""",
    "domains/fleet/contracts/aircraft.odcs.yaml": "  - {property: freshness, value: 20, unit: s}\n",
}
STALE_AFTER = 22  # seconds after a publish when the 20 s SLAs above are breached


class Receiver:
    """A webhook on 127.0.0.1 that records every JSON body posted to it and answers as told:
    200, 500, or only after longer than the platform waits (`hang`)."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.mode = "ok"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if receiver.mode == "hang":
                    time.sleep(WEBHOOK_TIMEOUT_SECONDS + 3)
                self.send_response(500 if receiver.mode == "fail" else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mesh"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]


@pytest.fixture(scope="module")
def receiver():
    webhook = Receiver()
    yield webhook
    webhook.server.shutdown()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, receiver):
    """A copy whose members fail when BREAK_ENV is set (with personal data in the error), with
    the SLAs above, built once: shared (the reference data loyalty's rules read), loyalty, fleet."""
    project = copy_project(tmp_path_factory.mktemp("slo") / "project")
    for name, slas in SLAS.items():
        contract = project / name
        text = contract.read_text()
        contract.write_text(text[: text.index("slaProperties:")] + "slaProperties:\n" + slas)
    programme = project / "domains/loyalty/programme.py"
    programme.write_text(programme.read_text().replace(
        '    return generate_members(count=MEMBERS)',
        f'    if __import__("os").environ.get("{BREAK_ENV}"):\n'
        f'        raise ValueError("member {PERSONAL} (+44 20 7946 0958) has no card")\n'
        '    return generate_members(count=MEMBERS)'))
    home = project.parent / "home"
    build = mesh_build(project, home, receiver, "shared", "loyalty", "fleet")
    assert build.returncode == 0, build.stdout + build.stderr  # breached SLOs never block a publish
    return project, home, time.monotonic()


def mesh_build(project: Path, home: Path, receiver: Receiver, *domains: str, **env: str) -> subprocess.CompletedProcess:
    args = [a for d in domains for a in ("--domain", d)]
    return subprocess.run([str(BIN / "mesh"), "build", *args], cwd=project, capture_output=True, text=True, timeout=600,
                          env=mesh_env(home, **{ALERT_WEBHOOK_ENV: receiver.url}, **env))


def measure_slos(project: Path, home: Path, receiver: Receiver, domain: str) -> None:
    """Run the domain's SLO job, as its schedule does: no product of it publishes."""
    run = subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", f"domains.{domain}.definitions", "-d", str(project), "-j", slo_job_name(domain)],
        cwd=project, capture_output=True, text=True, timeout=300,
        env=mesh_env(home, DAGSTER_HOME=str(home / "dagster"), **{ALERT_WEBHOOK_ENV: receiver.url}),
    )
    assert run.returncode == 0 and "RUN_SUCCESS" in run.stderr + run.stdout, run.stderr[-3000:]


def instance_of(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def states(project: Path, home: Path, product_id: str) -> dict[str, object]:
    domain, name = product_id.split(".")
    with instance_of(home) as instance:
        return {s.check: s for s in slo_state(instance, current_mesh(project).domains[domain].products[name])}


def alerts(home: Path) -> list[dict]:
    return [json.loads(line) for line in (home / "alerts.log").read_text().splitlines()]


def breaches(home: Path) -> set[tuple[str, str]]:
    return {(a["product"], a["check"]) for a in alerts(home) if a.get("kind") == "slo_breach"}


def test_an_old_event_time_breaches_latency_as_a_failed_warning_check_and_an_alert(mesh, receiver):
    project, home, _ = mesh
    members = states(project, home, "loyalty.members")
    latency = members["slo_latency"]
    assert latency.passed is False and latency.target == "<= 1 day"
    assert latency.summary.startswith("latest publish minus the newest joined_on is ")  # members joined in 2013
    assert members["slo_availability"].passed is True and members["slo_availability"].measured == "100.00%"
    with instance_of(home) as instance:
        key = dg.AssetCheckKey(dg.AssetKey(["loyalty", "members"]), "slo_latency")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record.evaluation.severity == dg.AssetCheckSeverity.WARN
        assert instance.get_latest_materialization_event(dg.AssetKey(["loyalty", "members"])) is not None  # published all the same

    assert ("loyalty.members", "slo_latency") in breaches(home)
    posted = [b for b in receiver.bodies if b["mesh_alert"].get("check") == "slo_latency" and b["mesh_alert"]["product"] == "loyalty.members"]
    assert len(posted) == 1, receiver.texts()
    body = posted[0]
    assert body["text"].startswith("SLO breached by loyalty.members in domain loyalty: slo_latency latest publish minus the newest joined_on is ")
    assert body["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}]  # Slack's incoming-webhook shape


def test_products_that_stop_publishing_breach_freshness_and_frequency_when_the_slo_job_measures_them(mesh, receiver):
    project, home, built = mesh
    time.sleep(max(0.0, STALE_AFTER - (time.monotonic() - built)))
    measure_slos(project, home, receiver, "loyalty")
    measure_slos(project, home, receiver, "fleet")

    members = states(project, home, "loyalty.members")
    assert members["slo_freshness"].passed is False and members["slo_freshness"].target == "<= 20 seconds"
    assert members["slo_frequency"].passed is False and "breaches the frequency SLA of 20 seconds" in members["slo_frequency"].summary
    aircraft = states(project, home, "fleet.aircraft")  # a dbt product
    assert list(aircraft) == ["slo_freshness"] and aircraft["slo_freshness"].passed is False
    # each breach alerted once (when it began), whether during the build or in the SLO job
    found = [(a["product"], a["check"]) for a in alerts(home) if a.get("kind") == "slo_breach"]
    for breach in (("loyalty.members", "slo_freshness"), ("loyalty.members", "slo_frequency"), ("fleet.aircraft", "slo_freshness")):
        assert found.count(breach) == 1, found
    assert found.count(("loyalty.members", "slo_latency")) == 1  # a breach that lasts is not alerted again
    assert {("loyalty.members", "slo_freshness"), ("fleet.aircraft", "slo_freshness")} <= {
        (b["mesh_alert"]["product"], b["mesh_alert"]["check"]) for b in receiver.bodies if "check" in b["mesh_alert"]}


def test_a_failed_publish_breaches_availability_and_alerts_the_webhook_without_personal_data(mesh, receiver, monkeypatch):
    project, home, _ = mesh
    failed = mesh_build(project, home, receiver, "loyalty", **{BREAK_ENV: "1"})
    assert failed.returncode == 1 and PERSONAL in failed.stderr  # the product's own error, shown to its engineer

    # the failure sensor, as the daemon runs it, on the failed run in the mesh's instance
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, receiver.url)
    with instance_of(home) as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        (failure,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_sensor_name("loyalty"), dagster_event=failure.dagster_event, dagster_instance=instance, dagster_run=run,
        ).for_run_failure()
        before = len(receiver.bodies)
        failure_sensor("loyalty", project)(context)
    (posted,) = receiver.bodies[before:]
    assert posted["text"].startswith(f"mesh publish failed in domain loyalty (run {run.run_id}, manual): not published: loyalty.bookings, loyalty.members;")
    assert posted["mesh_alert"]["kind"] == "run_failure" and posted["mesh_alert"]["run_id"] == run.run_id
    assert "has no card" in posted["text"]
    everything = json.dumps(receiver.bodies) + (home / "alerts.log").read_text()
    assert PERSONAL not in everything and "7946" not in everything

    # the SLO job, with a webhook that hangs: the alert is kept, the run succeeds
    receiver.mode = "hang"
    try:
        started = time.monotonic()
        measure_slos(project, home, receiver, "loyalty")
    finally:
        receiver.mode = "ok"
    availability = states(project, home, "loyalty.members")["slo_availability"]
    assert availability.passed is False and "breaches the availability SLA of 99.5%" in availability.summary
    assert ("loyalty.members", "slo_availability") in breaches(home)
    assert receiver.bodies[-1]["mesh_alert"]["check"] == "slo_availability"
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(("mode", "why"), [("fail", "the webhook answered HTTP 500"), ("hang", "the webhook timed out")])
def test_a_webhook_that_fails_or_hangs_does_not_fail_the_failure_sensor(mesh, receiver, monkeypatch, caplog, mode, why):
    project, home, _ = mesh
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, receiver.url)
    lines = len(alerts(home))
    receiver.mode = mode
    try:
        with instance_of(home) as instance:
            (run,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            (failure,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            context = dg.build_run_status_sensor_context(
                sensor_name=failure_sensor_name("loyalty"), dagster_event=failure.dagster_event, dagster_instance=instance, dagster_run=run,
            ).for_run_failure()
            with caplog.at_level("WARNING", logger="mesh.notifications"):
                failure_sensor("loyalty", project)(context)  # does not raise
    finally:
        receiver.mode = "ok"
    assert len(alerts(home)) == lines + 1  # the alert is kept in alerts.log
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "mesh.notifications"]
    assert warning == f"alert not posted: {why}; it is kept in alerts.log"
    assert receiver.url not in warning


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://user:s3cret@example.org/hook", "hooks.slack.com/services/T0/B0/s3cret"])
def test_a_webhook_that_is_not_http_is_refused_in_one_line_that_does_not_echo_it(monkeypatch, caplog, url):
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)
    with pytest.raises(MeshError) as error:
        alert_webhook()
    message = str(error.value)
    assert message.startswith(f"{ALERT_WEBHOOK_ENV} must be an http(s) URL with a host; found ")
    assert "\n" not in message and "s3cret" not in message and "passwd" not in message
    with caplog.at_level("WARNING", logger="mesh.notifications"):
        assert notify("mesh publish failed", {"kind": "run_failure"}) is False  # an alert never raises for it
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "mesh.notifications"]
    assert warning == f"alert not posted: {message}"


@pytest.mark.parametrize("url", ["https://bot:s3cretpass@hooks.example.invalid/T/B", "https://hooks.example.invalid:s3cret/T/B"])
def test_a_webhook_with_credentials_before_the_host_is_refused_and_never_raises_from_notify(monkeypatch, caplog, url):
    # http.client would raise InvalidURL quoting 's3cretpass@hooks...' out of the run or the sensor
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)
    with pytest.raises(MeshError) as error:
        alert_webhook()
    assert "s3cret" not in str(error.value) and "\n" not in str(error.value)
    with caplog.at_level("WARNING", logger="mesh.notifications"):
        assert notify("mesh publish failed", {"kind": "run_failure"}) is False
    assert not any("s3cret" in r.getMessage() for r in caplog.records)


def test_posting_to_an_unusable_url_says_only_what_failed():
    assert post("https://bot:s3cretpass@hooks.example.invalid/T/B", {"text": "x"}) == "the webhook failed (InvalidURL)"
