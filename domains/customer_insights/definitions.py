"""Customer insights: what loyalty members experience when they fly, without their personal data."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
