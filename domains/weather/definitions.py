"""Weather: hourly airport observations, built with dbt from the METAR feed."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
