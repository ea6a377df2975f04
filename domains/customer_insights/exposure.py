"""Customer insights' product: how exposed each loyalty member was to delays and cancellations.

The platform hands this domain loyalty's bookings with `passenger_email` masked (a keyed hash):
nothing here needs or may keep a real e-mail. The token is carried as-is as `contact_token`.
"""

import dagster as dg
import pandas as pd

from mesh_platform import product

DELAYED_MINUTES = 15.0
# How a booking finds its departure in flight_operations.flights.
FLIGHT_KEY = ["carrier", "flight_number", "origin", "scheduled_departure"]


def delay_exposure(bookings: pd.DataFrame, flights: pd.DataFrame) -> pd.DataFrame:
    """One row per member who booked: bookings, delayed arrivals, cancellations, mean arrival delay."""
    outcomes = flights[FLIGHT_KEY + ["arrival_delay_minutes", "cancelled"]]
    joined = bookings[["member_id", "passenger_email", *FLIGHT_KEY]].merge(outcomes, on=FLIGHT_KEY, how="left", validate="many_to_one")
    joined["delayed"] = joined["arrival_delay_minutes"] >= DELAYED_MINUTES
    joined["cancelled"] = joined["cancelled"].fillna(False).astype(bool)
    summary = (
        joined.groupby("member_id", as_index=False, sort=True)
        .agg(
            contact_token=("passenger_email", "first"),
            bookings=("member_id", "size"),
            delayed_arrivals=("delayed", "sum"),
            cancelled=("cancelled", "sum"),
            mean_arrival_delay_minutes=("arrival_delay_minutes", "mean"),
        )
    )
    return summary.astype({"bookings": "int32", "delayed_arrivals": "int32", "cancelled": "int32"})


@product
def member_delay_exposure(context: dg.AssetExecutionContext, bookings: pd.DataFrame, flights: pd.DataFrame) -> pd.DataFrame:
    """Bookings joined to the departures they were on, summed per member."""
    unmatched = len(bookings) - len(bookings.merge(flights[FLIGHT_KEY], on=FLIGHT_KEY, how="inner"))
    if unmatched:
        context.log.warning(f"{unmatched} of {len(bookings)} bookings match no departure in flight_operations.flights")
    return delay_exposure(bookings, flights)
