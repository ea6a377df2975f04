"""Punctuality: the NYC on-time performance report, from flights, carriers, fleet and weather."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
