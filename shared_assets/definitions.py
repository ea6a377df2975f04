"""Shared reference data: the global identifiers every domain joins on."""

from mesh_platform import domain_definitions
from shared_assets.reference_data import airports, calendar, carriers

defs = domain_definitions(__file__, products=[airports, carriers, calendar])
