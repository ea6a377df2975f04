"""Flight operations: the departures log of the NYC airports, one month at a time."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
