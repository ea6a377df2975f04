"""Fleet: the aircraft registry, built with dbt from the FAA registry extract."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
