"""What every dbt invocation of the platform shares: which dbt runs, and the lock that keeps two
processes (a webserver and a daemon loading one location) from writing one project's target at once.
`dbt parse` (orchestration/dbt/project.py) and the consumer-impact `dbt compile` (runtime/dbt_sql.py)
both use them."""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path


def dbt_executable() -> str:
    """dbt from the running interpreter's environment, so an un-activated venv works too."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


@contextlib.contextmanager
def target_lock(target: Path, name: str) -> Iterator[None]:
    """Hold `target/.mesh_<name>.lock` exclusively: the first process does the work, the next one
    waits and then finds it done."""
    target.mkdir(parents=True, exist_ok=True)
    with open(target / f".mesh_{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
