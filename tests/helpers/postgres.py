"""A real PostgreSQL server for a test: Debian's server binaries, on a free loopback port, run as
the unprivileged user `nobody` (Postgres refuses to run as root, and CI runs as root).

    with postgres_server() as server:
        env["MESH_POSTGRES_URL"] = server.url

The data folder is a fresh folder of the system's temp dir, not the test's tmp_path: pytest's
base temp folder is root's own (mode 0700), which `nobody` cannot enter. It is removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from tests.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "mesh"
DATABASE = "mesh"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    password: str
    folder: Path

    def database_url(self, database: str = DATABASE) -> str:
        return f"postgresql://{USER}:{self.password}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.database_url()

    def new_database(self, name: str) -> str:
        """A fresh, empty database on the server (one per test: its own runs only); its URL."""
        admin = psycopg2.connect(self.database_url("postgres"))
        admin.autocommit = True
        with contextlib.closing(admin), admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def query(self, url: str, sql: str, *args) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()


def _as_nobody(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    unprivileged = pwd.getpwnam("nobody")
    prefix = ["setpriv", f"--reuid={unprivileged.pw_uid}", f"--regid={unprivileged.pw_gid}", "--clear-groups"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120, **kwargs)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a server with a password-protected user and database; stop it and remove its data."""
    folder = Path(tempfile.mkdtemp(prefix="mesh-postgres-"))
    server = PostgresServer("127.0.0.1", free_port(), f"pg-{secrets.token_hex(8)}", folder)
    data, password_file = folder / "data", folder / "password"
    password_file.write_text(server.password)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        os.chown(password_file, nobody.pw_uid, nobody.pw_gid)
    folder.chmod(0o700)
    password_file.chmod(0o600)
    started = False
    try:
        _as_nobody([str(BIN / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8"])
        options = f"-p {server.port} -k {folder} -c listen_addresses={server.host} -c fsync=off"
        _as_nobody([str(BIN / "pg_ctl"), "start", "-w", "-D", str(data), "-l", str(folder / "server.log"), "-o", options])
        started = True
        server.new_database(DATABASE)
        yield server
    finally:
        if started:
            _as_nobody([str(BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data)])
        shutil.rmtree(folder, ignore_errors=True)
