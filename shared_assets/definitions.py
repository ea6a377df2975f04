"""Shared reference data: the global identifiers every domain joins on."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
