"""Which input columns a model's SQL reads, and what each output column derives from
(model/sql_usage.py): the consumer-impact policy and the column lineage rest on it."""

from __future__ import annotations

import pytest

from mesh_platform.model.sql_usage import SqlUsageError, analyse_sql

FLIGHTS = ("flight_operations", "flights")
CARRIERS = ("shared", "carriers")
TABLES = {
    FLIGHTS: {"carrier": "VARCHAR", "origin": "VARCHAR", "arrival_delay_minutes": "INTEGER", "cancelled": "BOOLEAN"},
    CARRIERS: {"carrier": "VARCHAR", "name": "VARCHAR"},
}


def test_qualified_aliases_and_a_using_join_read_the_key_of_both_sides():
    usage = analyse_sql(
        'select f.carrier, c.name as carrier_name, count(*) filter (where f.cancelled) as cancelled '
        'from "memory"."flight_operations"."flights" as f join "memory"."shared"."carriers" as c using (carrier) group by all',
        TABLES)
    assert usage.used == {FLIGHTS: {"carrier", "cancelled"}, CARRIERS: {"carrier", "name"}}
    assert usage.lineage["carrier_name"] == {(CARRIERS, "name")}
    assert usage.lineage["cancelled"] == {(FLIGHTS, "cancelled")}
    assert usage.outputs == ("carrier", "carrier_name", "cancelled")


def test_select_star_reads_every_declared_column():
    usage = analyse_sql("select * from shared.carriers", TABLES)
    assert usage.used == {CARRIERS: {"carrier", "name"}}
    assert usage.lineage == {"carrier": {(CARRIERS, "carrier")}, "name": {(CARRIERS, "name")}}


def test_unqualified_columns_resolve_to_the_one_table_declaring_them():
    usage = analyse_sql("select name, origin from flight_operations.flights f join shared.carriers c on f.carrier = c.carrier", TABLES)
    assert usage.used == {FLIGHTS: {"carrier", "origin"}, CARRIERS: {"carrier", "name"}}


def test_a_cte_and_a_subquery_are_followed_back_to_the_input_columns():
    usage = analyse_sql(
        "with named as (select carrier, name as label from shared.carriers) "
        "select n.label as title, d.late from named n join (select carrier, max(arrival_delay_minutes) as late "
        "from flight_operations.flights group by carrier) d on d.carrier = n.carrier", TABLES)
    assert usage.used == {CARRIERS: {"carrier", "name"}, FLIGHTS: {"carrier", "arrival_delay_minutes"}}
    assert usage.lineage == {"title": {(CARRIERS, "name")}, "late": {(FLIGHTS, "arrival_delay_minutes")}}


def test_a_column_read_only_inside_a_cte_still_counts_as_used():
    usage = analyse_sql("with ok as (select carrier from shared.carriers where name is not null) select carrier from ok", TABLES)
    assert usage.used == {CARRIERS: {"carrier", "name"}}
    assert usage.lineage == {"carrier": {(CARRIERS, "carrier")}}


def test_a_column_the_inputs_do_not_declare_is_an_error_naming_it():
    with pytest.raises(SqlUsageError, match="nickname"):
        analyse_sql("select c.nickname from shared.carriers c", TABLES)


def test_a_table_of_unknown_columns_is_an_error_not_a_guess():
    with pytest.raises(SqlUsageError, match="raw.planes"):
        analyse_sql("select p.tailnum from raw.planes p", TABLES)


def test_sql_that_does_not_parse_is_an_error():
    with pytest.raises(SqlUsageError, match="does not parse"):
        analyse_sql("select from where (", TABLES)


@pytest.mark.parametrize("sql", [
    "select columns(*) from shared.carriers",
    "select columns('na.*') from shared.carriers",
    "select max(columns(*)) from shared.carriers",
    "select columns(c.*) from shared.carriers c",
    "select struct_pack(*) from shared.carriers",
    "select c from shared.carriers as c",
    "select to_json(c) as row from shared.carriers c",
])
def test_a_star_form_or_a_whole_row_reads_every_column(sql):
    """DuckDB picks these columns at run time and qualify resolves none of them: reading nothing
    would let a breaking change to any column pass, so every column counts (None)."""
    assert analyse_sql(sql, TABLES).used == {CARRIERS: None}


def test_a_whole_row_is_read_whole_only_for_the_table_it_names_and_count_star_reads_no_column():
    usage = analyse_sql("select f.origin, c from flight_operations.flights f join shared.carriers c on true", TABLES)
    assert usage.used == {FLIGHTS: {"origin"}, CARRIERS: None}
    assert analyse_sql("select count(*) as n from shared.carriers", TABLES).used == {}
