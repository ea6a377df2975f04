"""Several processes publishing to one port on a real S3 server never corrupt it: every version
stays readable, each holds one whole batch, and a publish that lost the race is refused with the
"another publish committed first" PublishError (deltalake's conditional puts, honoured by the store)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from deltalake import DeltaTable

from mesh_platform.model.access import storage_identity
from tests.conftest import ROOT, mesh_env
from tests.helpers.objectstore import local_s3, s3_settings
from tests.helpers.publisher import ROWS
from tests.helpers.s3_mesh import FULL_ACCESS, grant, options_with, s3_environment
from tests.test_port_reliability import COUNTER_CONTRACT

pytestmark = pytest.mark.objectstore

WRITERS, ROUNDS = 4, 4


def test_concurrent_publishers_to_one_s3_port_leave_every_version_whole(tmp_path, monkeypatch):
    home = tmp_path / "mesh_home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    contract = tmp_path / "counter.odcs.yaml"
    contract.write_text(COUNTER_CONTRACT)
    with local_s3(home, ROOT) as server:
        keys = grant(server, ROOT, {storage_identity("lab"): FULL_ACCESS})
        env = s3_environment(mesh_env(home, **s3_settings(server, home)))
        racers = [
            subprocess.Popen([sys.executable, "-m", "tests.helpers.s3_mesh", str(ROOT), str(contract), str(writer), str(ROUNDS)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for writer in range(1, WRITERS + 1)
        ]
        outputs = [racer.communicate(timeout=600) for racer in racers]
        assert all(racer.returncode == 0 for racer in racers), [err for _, err in outputs]
        lines = [line for out, _ in outputs for line in out.splitlines()[1:]]
        published = [line for line in lines if line.startswith("published")]
        for line in lines:  # a loser is told, in one line, that another publish won
            assert line.startswith("published") or ("another publish to s3://mesh/ports/lab/counter/v1 committed first" in line), line
        assert len(published) >= ROUNDS, lines  # commits landed, some from each race
        table = DeltaTable("s3://mesh/ports/lab/counter/v1", storage_options=options_with(server, keys["platform"]))
        assert table.version() == len(published) - 1, lines  # every successful publish is one version, none lost
        for version in range(table.version() + 1):
            table.load_as_version(version)
            rows = table.to_pyarrow_table()
            # Whole: one writer's batch of one round, every row, nothing of another batch.
            assert rows.num_rows == ROWS and len(set(rows.column("batch").to_pylist())) == 1, (version, rows.num_rows, lines)
            assert sorted(rows.column("id").to_pylist()) == list(range(ROWS)), version
