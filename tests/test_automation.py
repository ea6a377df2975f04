"""Automation: schedules of source-aligned products, consumers rebuilt when an input publishes
(declarative automation, across code locations), failure alerts — and the real daemon doing it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
import zoneinfo
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import AUTOMATION_CONDITION_TAG

from domains.customer_insights.definitions import defs as customer_insights
from domains.fleet.definitions import defs as fleet
from domains.flight_operations.definitions import defs as flight_operations
from domains.loyalty.definitions import defs as loyalty
from domains.punctuality.definitions import defs as punctuality
from domains.weather.definitions import defs as weather
from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.orchestration.retention_schedule import vacuum_schedule_name
from mesh_platform.orchestration.automation import (
    INTERVAL_ENV,
    automation_sensor_name,
    failure_sensor,
    failure_sensor_name,
    on_new_input_version,
    reacting_products,
)
from shared_assets.definitions import defs as shared
from tests.conftest import BIN, ROOT, copy_project, free_port, group_ends, mesh_env
from tests.helpers.executors import steps_executed

LOCATIONS = {
    "shared": shared, "flight_operations": flight_operations, "fleet": fleet, "weather": weather,
    "punctuality": punctuality, "loyalty": loyalty, "customer_insights": customer_insights,
}
SCHEDULED = {  # source-aligned domains: their schedule, and the job it runs
    "shared": ("0 5 * * *", "build_shared"),
    "flight_operations": ("0 6 1 * *", "build_flight_operations"),
    "fleet": ("30 5 * * 1", "build_fleet"),
    "weather": ("15 6 * * *", "build_weather"),
    "loyalty": ("0 4 * * *", "build_loyalty"),
}
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def key(product_id: str) -> dg.AssetKey:
    return dg.AssetKey(product_id.split("."))


FLIGHTS = key("flight_operations.flights")
MONTHS = flight_operations.resolve_asset_graph().get(FLIGHTS).partitions_def.get_partition_keys()


# -- descriptors ----------------------------------------------------------------------------------

def make_domain(tmp_path: Path, schedule: str, kind: str = "source-aligned", product_kind: str | None = None) -> Path:
    folder = tmp_path / "lab"
    (folder / "products").mkdir(parents=True)
    (folder / "contracts").mkdir()
    (folder / "domain.yaml").write_text(
        f"name: lab\nkind: {kind}\ndescription: A test domain.\nowner: {{team: lab_team, contact: lab@mesh.example}}\n"
    )
    product = "name: samples\ndescription: Samples.\n" + (f"kind: {product_kind}\n" if product_kind else "") + schedule
    (folder / "products" / "samples.yaml").write_text(product)
    (folder / "contracts" / "samples.odcs.yaml").write_text((ROOT / "shared_assets" / "contracts" / "carriers.odcs.yaml").read_text())
    return folder


@pytest.mark.parametrize(
    ("schedule", "field", "expected"),
    [
        ('schedule: {cron: "0 6 * *", timezone: UTC}\n', "schedule.cron", "'0 6 * *' is not a valid cron expression; expected five fields"),
        ('schedule: {cron: "0 6 * * * *", timezone: UTC}\n', "schedule.cron", "has seconds or years; expected five fields"),
        ('schedule: {cron: "61 6 * * *", timezone: UTC}\n', "schedule.cron", "is not a valid cron expression"),
        ('schedule: {cron: "0 0 30 2 *", timezone: UTC}\n', "schedule.cron", "names a day February never has"),
        ('schedule: {cron: "*/90 * * * *", timezone: UTC}\n', "schedule.cron", "step of 90 in its minute field, beyond the top of its range"),
        ('schedule: {cron: "0 6 * * *", timezone: America/NewYork}\n', "schedule.timezone", "unknown time zone 'America/NewYork'"),
        ('schedule: {cron: "0 6 * * *"}\n', "schedule.timezone", "required field is missing"),
        ('schedule: "0 6 * * *"\n', "schedule", "expected a mapping {cron: ..., timezone: ...}"),
        ('schedule: {cron: "0 6 * * *", timezone: UTC, every: day}\n', "schedule.every", "unknown field"),
    ],
)
def test_a_bad_schedule_names_the_file_and_the_field(tmp_path, schedule, field, expected):
    folder = make_domain(tmp_path, schedule)
    with pytest.raises(DescriptorError) as error:
        load_domain(folder)
    assert error.value.path == str(folder / "products" / "samples.yaml")
    assert error.value.field == field
    assert expected in error.value.expected


@pytest.mark.parametrize(("kind", "product_kind", "found"), [
    ("consumer-aligned", None, "consumer-aligned"),  # the domain's kind
    ("source-aligned", "aggregate", "aggregate"),  # the product's own kind
])
def test_only_source_aligned_products_declare_a_schedule(tmp_path, kind, product_kind, found):
    folder = make_domain(tmp_path, 'schedule: {cron: "0 6 * * *", timezone: UTC}\n', kind, product_kind)
    with pytest.raises(DescriptorError) as error:
        load_domain(folder)
    assert (error.value.path, error.value.field) == (str(folder / "products" / "samples.yaml"), "schedule")
    assert f"only source-aligned products declare a schedule; lab.samples is {found}" in error.value.expected
    assert "rebuilt automatically when one of its input ports publishes" in error.value.expected


def test_a_good_schedule_loads(tmp_path):
    domain = load_domain(make_domain(tmp_path, 'schedule: {cron: "0 6 * * 1-5", timezone: Europe/Paris}\n'))
    schedule = domain.product("samples").descriptor.schedule
    assert (schedule.cron, schedule.timezone) == ("0 6 * * 1-5", "Europe/Paris")


def test_products_reading_another_domain_react_unless_scheduled(tmp_path):
    """Reaction follows reads inside the domain too: a product built from a reacting product reacts."""
    from mesh_platform.model.descriptor import Product, ProductDescriptor

    def product(name, inputs, schedule=None):
        descriptor = ProductDescriptor(name=name, description="x", inputs=inputs, schedule=schedule)
        return Product("lab", descriptor, tmp_path / f"{name}.yaml", tmp_path / "c.yaml", "source-aligned", None)  # type: ignore[arg-type]

    products = {
        "raw": product("raw", ()),  # nothing to react to
        "joined": product("joined", ("shared.carriers",)),  # reads another domain
        "report": product("report", ("lab.joined",)),  # reads a reacting product of its domain
        "own": product("own", ("lab.raw",)),  # reads only its domain's scheduled/manual data
        "feed": product("feed", ("shared.carriers",), {"cron": "0 6 * * *", "timezone": "UTC"}),  # scheduled
    }
    assert reacting_products("lab", products) == {"joined", "report"}


def test_products_with_different_schedules_publish_in_their_own_runs(tmp_path):
    """One schedule per distinct schedule of a domain; a group that is not the whole domain gets a
    job of its own products (and the internal models they are built from)."""
    from mesh_platform.model.descriptor import Domain, DomainDescriptor, Product, ProductDescriptor
    from mesh_platform.orchestration.automation import scheduled_publishing

    owner = {"team": "lab_team", "contact": "lab@mesh.example"}
    descriptor = DomainDescriptor(name="lab", kind="source-aligned", description="x", owner=owner)
    daily = {"cron": "0 6 * * *", "timezone": "UTC"}

    def product(name, schedule):
        spec = ProductDescriptor(name=name, description="x", schedule=schedule)
        return Product("lab", spec, tmp_path / name, tmp_path / name, "source-aligned", descriptor.owner)

    domain = Domain(descriptor, tmp_path, {
        "alpha": product("alpha", daily), "beta": product("beta", daily),
        "gamma": product("gamma", {"cron": "0 * * * *", "timezone": "Europe/Paris"}), "delta": product("delta", None),
    })
    build = dg.define_asset_job("build_lab")
    jobs, schedules = scheduled_publishing(domain, build, internal_keys=[dg.AssetKey(["lab", "stg_alpha"])])
    assert [(s.name, s.job_name, s.cron_schedule, s.execution_timezone) for s in schedules] == [
        ("schedule_lab_alpha", "publish_lab_alpha", "0 6 * * *", "UTC"),
        ("schedule_lab_gamma", "publish_lab_gamma", "0 * * * *", "Europe/Paris"),
    ]
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules)
    assert [j.name for j in jobs] == ["publish_lab_alpha", "publish_lab_gamma"]
    staging = dg.AssetSpec(["lab", "stg_alpha"])  # like a dbt staging model: executable, not a product
    specs = [staging, dg.AssetSpec(["lab", "alpha"], deps=[staging]), *(dg.AssetSpec(["lab", n]) for n in ("beta", "gamma", "delta"))]
    graph = dg.Definitions(assets=[dg.multi_asset(name="lab_dbt", specs=specs, can_subset=True)(lambda: None)]).resolve_asset_graph()
    selected = {j.name: {k.path[-1] for k in j.selection.resolve(graph)} for j in jobs}
    assert selected == {"publish_lab_alpha": {"alpha", "beta", "stg_alpha"}, "publish_lab_gamma": {"gamma"}}


# -- the demo's code locations ----------------------------------------------------------------------

@pytest.mark.parametrize("domain", sorted(LOCATIONS))
def test_every_demo_location_carries_its_automation_running_by_default(domain):
    defs = LOCATIONS[domain]
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {automation_sensor_name(domain), failure_sensor_name(domain)}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    assert isinstance(sensors[automation_sensor_name(domain)], dg.AutomationConditionSensorDefinition)
    assert isinstance(sensors[failure_sensor_name(domain)], dg.RunStatusSensorDefinition)

    assert vacuum_schedule_name(domain) in {s.name for s in defs.schedules or []}  # every location's retention vacuum: test_port_history.py
    # every location with a measured SLA also re-measures its SLOs on a schedule (orchestration/slo_checks.py)
    slo = [s for s in defs.schedules or [] if s.name == f"slo_schedule_{domain}"]
    assert [(s.job_name, s.default_status) for s in slo] == [(f"slo_{domain}", dg.DefaultScheduleStatus.RUNNING)]
    schedules = [s for s in defs.schedules or [] if s not in slo and s.name != vacuum_schedule_name(domain)]
    if domain in SCHEDULED:
        (schedule,) = schedules
        assert (schedule.cron_schedule, schedule.job_name) == SCHEDULED[domain]
        assert schedule.execution_timezone == "America/New_York"
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    else:
        assert schedules == []

    graph = defs.resolve_asset_graph()
    conditions = {k.to_user_string(): graph.get(k).automation_condition for k in graph.materializable_asset_keys}
    for asset, condition in conditions.items():
        if domain in SCHEDULED:
            assert condition is None, f"{asset} publishes on its schedule, it does not react"
        else:
            assert condition is not None and condition.get_label() == "on_new_input_version", asset
    if domain == "punctuality":  # dbt models (from the translator) and a Python product alike
        assert {"punctuality/route_performance", "punctuality/aircraft_age_performance", "punctuality/weather_impact"} <= set(conditions)
    for external in set(graph.get_all_asset_keys()) - set(graph.materializable_asset_keys):
        assert graph.get(external).automation_condition is None  # other domains' ports: only read here


def test_the_monthly_schedule_publishes_the_latest_complete_month():
    (schedule,) = [s for s in flight_operations.schedules if s.name == "schedule_flight_operations"]
    job = flight_operations.resolve_job_def(schedule.job_name)

    def tick(when: dt.datetime):
        with dg.build_schedule_context(scheduled_execution_time=when, repository_def=flight_operations.get_repository_def()) as context:
            return schedule.evaluate_tick(context)

    june_first = tick(dt.datetime(2013, 6, 1, 6, 0, tzinfo=NEW_YORK))
    (request,) = june_first.run_requests
    assert request.partition_key == "2013-05-01"  # May has just closed; June has only begun
    assert request.partition_key in job.partitions_def.get_partition_keys()
    (late,) = tick(dt.datetime(2026, 3, 1, 6, 0, tzinfo=NEW_YORK)).run_requests
    assert late.partition_key == "2013-12-01"  # the last month the product declares
    early = tick(dt.datetime(2013, 1, 15, 6, 0, tzinfo=NEW_YORK))
    assert not early.run_requests and "no month of flight_operations.flights is complete" in early.skip_message


# -- declarative automation -------------------------------------------------------------------------

def workspace_view(*locations: dg.Definitions) -> dg.Definitions:
    """Several code locations as the daemon sees them together: a product is the producer's
    executable asset, and the consumers' AssetSpec of the same key is merged into it."""
    executable = {k for d in locations for a in d.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable for k in a.keys}
    assets = [a for d in locations for a in d.assets if not (isinstance(a, dg.AssetSpec) and a.key in executable)]
    return dg.Definitions(assets=assets, resources=locations[-1].resources)


def publish(instance: dg.DagsterInstance, asset: dg.AssetKey, partitions=(None,)) -> None:
    for partition in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))


class Ticks:
    """Successive evaluations of the automation conditions of `target`, as the sensor makes them."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, target: dg.AssetKey):
        self.defs, self.instance, self.target, self.cursor = defs, instance, target, None

    def __call__(self) -> set[str | None]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, asset_selection=dg.AssetSelection.assets(self.target), cursor=self.cursor
        )
        self.cursor = result.cursor
        return set(result.get_requested_partitions(self.target))


@pytest.mark.parametrize("view", ["consumer location", "workspace"])
def test_a_consumer_is_requested_once_after_an_input_in_another_location_publishes(view):
    """customer_insights reads loyalty.bookings and flight_operations.flights from two other
    locations: declared there as AssetSpecs, executable in their own locations."""
    consumer = key("customer_insights.member_delay_exposure")
    defs = customer_insights if view == "consumer location" else workspace_view(flight_operations, loyalty, customer_insights)
    assert defs.resolve_asset_graph().get(FLIGHTS).is_materializable == (view == "workspace")
    instance = dg.DagsterInstance.ephemeral()
    publish(instance, FLIGHTS, MONTHS)
    publish(instance, key("loyalty.bookings"))
    publish(instance, consumer)  # everything published once already
    tick = Ticks(defs, instance, consumer)
    assert tick() == set()  # the sensor's first look: nothing new
    assert tick() == set()

    publish(instance, key("loyalty.bookings"))  # a new version of one input
    assert tick() == {None}
    assert tick() == set()  # once: not again on the next tick

    publish(instance, FLIGHTS, ["2013-03-01"])  # one corrected month of the other input
    publish(instance, key("loyalty.bookings"))  # and the other input, before the same tick
    assert tick() == {None}  # one rebuild for both
    assert tick() == set()


def test_a_consumer_is_not_requested_while_an_input_is_missing():
    consumer = key("customer_insights.member_delay_exposure")
    instance = dg.DagsterInstance.ephemeral()
    tick = Ticks(workspace_view(flight_operations, loyalty, customer_insights), instance, consumer)
    assert tick() == set()
    publish(instance, key("loyalty.bookings"))
    assert tick() == set()  # flights was never published
    publish(instance, FLIGHTS, MONTHS)
    assert tick() == {None}  # now every input is there: built (it was missing)
    assert tick() == set()


def test_a_consumer_never_built_is_built_when_first_seen_with_its_inputs_published():
    """A consumer deployed into a running mesh whose inputs are published is built once, without
    waiting for an input's next version; if that build fails it is not retried in a loop."""
    consumer = key("customer_insights.member_delay_exposure")
    instance = dg.DagsterInstance.ephemeral()
    publish(instance, FLIGHTS, MONTHS)
    publish(instance, key("loyalty.bookings"))
    tick = Ticks(customer_insights, instance, consumer)
    assert tick() == {None}
    assert tick() == set()  # (its run failed, say: it stays missing, and is not requested again)
    assert tick() == set()


def test_a_monthly_consumer_rebuilds_the_months_whose_inputs_changed():
    """weather_impact is monthly, read from monthly flights and from (unpartitioned) weather."""
    impact, observations = key("punctuality.weather_impact"), key("weather.hourly_observations")
    instance = dg.DagsterInstance.ephemeral()
    publish(instance, FLIGHTS, MONTHS)
    publish(instance, observations)
    publish(instance, impact, MONTHS)
    tick = Ticks(workspace_view(flight_operations, weather, punctuality), instance, impact)
    assert tick() == set()

    publish(instance, FLIGHTS, ["2013-03-01"])  # a corrected March: not only the latest month
    assert tick() == {"2013-03-01"}
    assert tick() == set()

    publish(instance, observations)  # new weather concerns every month
    assert tick() == set(MONTHS)
    assert tick() == set()


def test_the_dbt_products_react_to_their_inputs():
    """Conditions given by the dbt translator: flights feeds both models, fleet only one."""
    route, age = key("punctuality.route_performance"), key("punctuality.aircraft_age_performance")
    instance = dg.DagsterInstance.ephemeral()
    for asset in (key("shared.carriers"), key("fleet.aircraft"), route, age):
        publish(instance, asset)
    publish(instance, FLIGHTS, MONTHS)
    defs = punctuality
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(route, age))
    assert result.total_requested == 0
    publish(instance, key("fleet.aircraft"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(route, age), cursor=result.cursor)
    assert (result.get_num_requested(age), result.get_num_requested(route)) == (1, 0)


def test_dbt_internal_models_built_from_another_domain_react_too(tmp_path):
    """A staging model reading another domain's port reacts, so the product built on it sees the
    change; a model of the domain's own raw data and a scheduled product do not."""
    from mesh_platform.model.descriptor import Domain, DomainDescriptor, Product, ProductDescriptor
    from mesh_platform.runtime.engines.duckdb import PLUGIN_ALIAS
    from mesh_platform.orchestration.dbt.translator import MeshDbtTranslator

    owner = {"team": "lab_team", "contact": "lab@mesh.example"}
    descriptor = DomainDescriptor(name="lab", kind="source-aligned", description="x", owner=owner)

    def product(name, inputs=(), schedule=None):
        spec = ProductDescriptor(name=name, description="x", inputs=inputs, schedule=schedule)
        return Product("lab", spec, tmp_path / name, tmp_path / name, "source-aligned", descriptor.owner)

    domain = Domain(descriptor, tmp_path, {
        "report": product("report", ("flight_operations.flights",)), "feed": product("feed", (), {"cron": "0 6 * * *", "timezone": "UTC"}),
        "summary": product("summary"),
    })

    def model(name, *parents):
        return {"unique_id": f"model.lab.{name}", "resource_type": "model", "name": name, "depends_on": {"nodes": list(parents)}}

    sources = {
        "source.lab.flight_operations.flights": {"source_name": "flight_operations", "name": "flights", "meta": {"plugin": PLUGIN_ALIAS}},
        "source.lab.raw.planes": {"source_name": "raw", "name": "planes", "meta": {}},
    }
    nodes = {n["unique_id"]: n for n in [
        model("stg_flights", "source.lab.flight_operations.flights"), model("report", "model.lab.stg_flights"),
        model("stg_planes", "source.lab.raw.planes"), model("feed", "model.lab.stg_planes", "model.lab.stg_flights"),
        model("summary", "model.lab.report"),  # a product of the domain built on a reacting product
    ]}
    translator = MeshDbtTranslator(domain, tmp_path, manifest={"nodes": nodes, "sources": sources})
    labels = {n["name"]: (c.get_label() if (c := translator.get_automation_condition(n)) else None) for n in nodes.values()}
    assert labels == {"stg_flights": "on_new_input_version", "report": "on_new_input_version", "stg_planes": None,
                      "feed": None, "summary": "on_new_input_version"}


# A toy graph with the same condition, to drive real (in-process) runs that block or fail.
GATE = threading.Event()
FAIL = {"b": False}


@dg.asset
def input_a() -> None: ...


@dg.asset
def input_b() -> None:
    if FAIL["b"]:
        raise RuntimeError("the feed is empty")
    assert GATE.wait(60), "the test never opened the gate"


@dg.asset(deps=[input_a, input_b], automation_condition=on_new_input_version())
def report() -> None: ...


def test_a_consumer_waits_for_inputs_in_progress_and_does_not_rebuild_on_a_failed_input():
    toy = dg.Definitions(assets=[input_a, input_b, report])
    with dg.instance_for_test() as instance:
        GATE.set()
        dg.materialize([input_a, input_b, report], instance=instance)
        tick = Ticks(toy, instance, report.key)
        assert tick() == set()

        # input_b is being published when input_a's new version lands: wait for b, then once.
        GATE.clear()
        running = threading.Thread(target=dg.materialize, args=([input_b],), kwargs={"instance": instance})
        running.start()
        deadline = time.monotonic() + 30
        while not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) and time.monotonic() < deadline:
            time.sleep(0.05)
        dg.materialize([input_a], instance=instance)
        assert tick() == set()  # b still running
        GATE.set()
        running.join(30)
        assert tick() == {None}  # both settled: one rebuild
        assert tick() == set()

        # input_b's publish fails: a new input_a does not rebuild the report on b's stale port ...
        FAIL["b"] = True
        assert not dg.materialize([input_b], instance=instance, raise_on_error=False).success
        dg.materialize([input_a], instance=instance)
        assert tick() == set()
        assert tick() == set()
        # ... until b publishes again.
        FAIL["b"] = False
        dg.materialize([input_b], instance=instance)
        assert tick() == {None}
        assert tick() == set()


# -- failure alerts ---------------------------------------------------------------------------------

@dg.asset(key=["lab", "readings"])
def broken_readings() -> None:
    raise ValueError("lab.readings: 3 rows break rule 'readings_station_required'")


@dg.asset(key=["lab", "stations"])
def stations() -> None: ...


def test_a_failed_run_is_logged_and_recorded_in_alerts_log(mesh_home, caplog):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [stations, broken_readings], instance=instance, raise_on_error=False, tags={AUTOMATION_CONDITION_TAG: "true"}
        )
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_sensor_name("lab"), dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=instance.get_run_by_id(result.run_id),
        ).for_run_failure()
        with caplog.at_level("ERROR", logger="mesh.automation"):
            failure_sensor("lab", ROOT)(context)

    (line,) = (mesh_home / "alerts.log").read_text().splitlines()
    alert = json.loads(line)
    assert alert["domain"] == "lab" and alert["run_id"] == result.run_id and alert["trigger"] == "automation"
    assert alert["products"] == ["lab.readings"]  # stations was published
    assert alert["steps"] == [{"step": "lab__readings", "error": "ValueError: lab.readings: 3 rows break rule 'readings_station_required'"}]
    message = caplog.records[-1].getMessage()
    assert message.startswith(f"mesh publish failed in domain lab (run {result.run_id}, automation): not published: lab.readings;")
    assert "rule 'readings_station_required'" in message


# -- the real daemon --------------------------------------------------------------------------------

AUTOMATION_WORKSPACE = """\
# The producers of customer_insights' inputs (and the reference data their contracts check), and it.
load_from:
  - python_module: {module_name: shared_assets.definitions, working_directory: ., location_name: shared}
  - python_module: {module_name: domains.flight_operations.definitions, working_directory: ., location_name: flight_operations}
  - python_module: {module_name: domains.loyalty.definitions, working_directory: ., location_name: loyalty}
  - python_module: {module_name: domains.customer_insights.definitions, working_directory: ., location_name: customer_insights}
"""


class MeshBuild:
    """`mesh build` in the background, its output read on a thread so that no wait is unbounded."""

    def __init__(self, project: Path, env: dict[str, str], domains: tuple[str, ...]):
        args = [a for d in domains for a in ("-d", d)]
        self.process = subprocess.Popen(
            [str(BIN / "mesh"), "build", *args], cwd=project, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self.domain_started = threading.Event()  # also set when the output ends, so no one waits on
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if "▶" in line:
                self.domain_started.set()
        self.domain_started.set()

    def finish(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return code

    def output(self) -> str:
        return "".join(self.lines)


def wait_for(what: str, check, timeout: float, process: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"mesh dev exited early while waiting for {what}"
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_daemon_rebuilds_a_consumer_when_an_input_in_another_location_publishes(tmp_path):
    """`mesh dev` on a fresh instance while `mesh build` publishes the producers: the daemon — nobody
    else — builds customer_insights.member_delay_exposure once its inputs exist, and rebuilds it,
    once, when loyalty publishes a new version of bookings."""
    project = copy_project(tmp_path / "project")
    (project / "workspace.yaml").write_text(AUTOMATION_WORKSPACE)
    home = tmp_path / "home"
    env = mesh_env(home, **{INTERVAL_ENV: "2"})
    consumer, bookings = key("customer_insights.member_delay_exposure"), key("loyalty.bookings")

    def mesh_build(*domains: str) -> MeshBuild:
        return MeshBuild(project, {**env, "PYTHONUNBUFFERED": "1"}, domains)

    def finished(build: MeshBuild) -> None:
        assert build.finish(timeout=300) == 0, build.output()

    started = time.monotonic()
    build = mesh_build("shared", "flight_operations", "loyalty")  # customer_insights is never built by hand
    process = None
    try:
        # A first domain starts: the build has created the instance.
        assert build.domain_started.wait(300) and build.process.poll() is None, "mesh build ended before building:\n" + build.output()
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))
        port = free_port()
        ignore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does to `mesh dev &`
        process = subprocess.Popen(  # while the producers publish
            [str(BIN / "mesh"), "dev", "--port", str(port)], cwd=project, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=ignore_sigint,
        )
        finished(build)
        built = time.monotonic()

        def automation_runs() -> list[dg.DagsterRun]:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={AUTOMATION_CONDITION_TAG: "true"}))
            return sorted((r for r in runs if r.asset_selection and consumer in r.asset_selection), key=lambda r: r.run_id)

        def done(count: int):
            def check():
                runs = [instance.get_run_record_by_id(r.run_id) for r in automation_runs()]
                finished_runs = [r for r in runs if r.dagster_run.is_finished]
                return finished_runs if len(finished_runs) >= count else None
            return check

        (first,) = wait_for("the daemon to build the missing consumer", done(1), timeout=150, process=process)
        assert first.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert first.dagster_run.tags.get("dagster/sensor_name") == "automation_customer_insights"
        assert instance.get_latest_materialization_event(consumer).run_id == first.dagster_run.run_id
        assert first.create_timestamp.timestamp() > instance.get_latest_materialization_event(bookings).timestamp  # not before its inputs
        assert steps_executed(instance, first.dagster_run.run_id) == "in_process"  # the executor from settings, as mesh build's
        first_done = time.monotonic()

        finished(mesh_build("loyalty"))  # loyalty publishes a new version of bookings
        republished = instance.get_latest_materialization_event(bookings)
        runs = wait_for("the daemon to rebuild the consumer", done(2), timeout=120, process=process)
        second = max(runs, key=lambda r: r.create_timestamp)
        assert second.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        rebuilt = instance.get_latest_materialization_event(consumer)
        assert rebuilt.run_id == second.dagster_run.run_id and rebuilt.timestamp > republished.timestamp
        time.sleep(6)  # a few more evaluations: no other rebuild for the same input versions
        assert len(automation_runs()) == 2
        print(f"\nproducers built while mesh dev starts {built - started:.0f} s, consumer built by the daemon "
              f"{first_done - built:.0f} s, republish and automated rebuild {time.monotonic() - first_done:.0f} s")
        # Started as a background job, `mesh dev` still stops its whole group — webserver, daemon,
        # code servers — on SIGTERM to it alone.
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=90)
        assert group_ends(process.pid, timeout=60), "mesh dev left processes running"
    finally:
        if build.process.poll() is None:
            build.process.kill()
            build.process.wait(timeout=60)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
