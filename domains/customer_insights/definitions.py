"""Customer insights: what loyalty members experience when they fly, without their personal data."""

from domains.customer_insights.exposure import member_delay_exposure
from mesh_platform import domain_definitions

defs = domain_definitions(__file__, products=[member_delay_exposure])
