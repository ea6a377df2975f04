"""Loyalty: the frequent-flyer programme's CRM, its members and their bookings (personal data)."""

from mesh_platform import domain_definitions

defs = domain_definitions(__file__)
