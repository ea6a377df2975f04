"""Punctuality: the NYC on-time performance report, from flights, carriers, fleet and weather."""

from domains.punctuality.weather_effect import weather_impact
from mesh_platform import domain_definitions

defs = domain_definitions(__file__, products=[weather_impact])
