"""Punctuality's Python product: the effect of weather at departure on delays."""

import numpy as np
import pandas as pd

from mesh_platform import product

# Thresholds of the FAA's instrument conditions and a common strong-wind cut-off.
LOW_VISIBILITY_MILES = 3.0
STRONG_WIND_MPH = 25.0
DELAYED_MINUTES = 15.0


def classify_conditions(observations: pd.DataFrame) -> pd.Series:
    """The first condition that applies: precipitation, low visibility, strong wind, else clear."""
    rules = [
        observations["precipitation_inches"].astype("float64") > 0,
        observations["visibility_miles"] < LOW_VISIBILITY_MILES,
        observations["wind_speed_mph"] >= STRONG_WIND_MPH,
    ]
    return pd.Series(
        np.select(rules, ["precipitation", "low_visibility", "strong_wind"], default="clear"),
        index=observations.index,
    )


@product
def weather_impact(flights: pd.DataFrame, hourly_observations: pd.DataFrame) -> pd.DataFrame:
    """Flights of the month joined to the weather at their origin in their scheduled hour."""
    departed = flights[~flights["cancelled"]]
    weather = hourly_observations.assign(condition=classify_conditions(hourly_observations))
    joined = departed.merge(
        weather[["origin", "observed_hour_utc", "condition"]],
        left_on=["origin", "scheduled_hour_utc"],
        right_on=["origin", "observed_hour_utc"],
        how="inner",
    )
    joined["delayed"] = joined["departure_delay_minutes"] >= DELAYED_MINUTES
    summary = (
        joined.groupby(["flight_month", "origin", "condition"], as_index=False)
        .agg(
            flights=("delayed", "size"),
            avg_departure_delay_minutes=("departure_delay_minutes", "mean"),
            delayed_share=("delayed", "mean"),
        )
        .rename(columns={"flight_month": "month"})
    )
    return summary
