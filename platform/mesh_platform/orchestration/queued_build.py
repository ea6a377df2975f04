"""`mesh build --queued` (MESH_BUILD_MODE=queued): each domain's run goes through the instance's
run queue and the daemon launches it, as runs from the UI, schedules and automation do.

The build still decides the order: it submits a wave's runs (domains none of which consumes
another's products), waits for all of them to end, and only then submits the next wave, so
producers' runs end before their consumers' start. It relays each run's events from the instance
and reports them as the in-process build does (build.py). Runs are created as `dagster job launch`
creates them (the job's remote origin, its execution plan), from the domain's location loaded in
this process: the daemon finds the location of the same name in its own workspace and launches
the run there. Without a live daemon for the instance, the build starts one for its own duration.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceLoadTarget
from dagster._daemon.controller import get_daemon_statuses
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from mesh_platform.model.errors import MeshError
from mesh_platform.orchestration.build_events import DomainRun, relay_new_events

BUILD_TAG = "mesh/build"  # every run of one queued build carries its id: the UI filters on it


@dataclass(frozen=True)
class QueuedDomain:
    """One domain's run to submit: its location, job, the assets to build (None: all) and tags."""

    name: str
    location: str  # the code location's name in workspace.yaml (= the domain)
    module: str  # the location's module, loaded in this process
    job: str
    selection: list[dg.AssetKey] | None
    tags: dict[str, str]


@dataclass(frozen=True)
class _InProcessLocations(WorkspaceLoadTarget):
    """The build's own view of the domains' locations, loaded in this process (no code server):
    enough to create runs; the daemon launches them from its workspace's locations of the same name."""

    root: Path
    modules: tuple[tuple[str, str], ...]  # (location name, module)

    def create_origins(self):
        return [
            InProcessCodeLocationOrigin(
                LoadableTargetOrigin(executable_path=sys.executable, module_name=module, working_directory=str(self.root)),
                location_name=name,
            )
            for name, module in self.modules
        ]


# A daemon beats every 30 s; Dagster's own tolerance (30 min) would take a daemon stopped minutes
# ago, whose heartbeat stays in the instance, for a live one, and the build's runs would sit in
# the queue for good. Two missed beats mean it is gone.
HEARTBEAT_TOLERANCE_SECONDS = 75
# How often a build waiting on someone else's daemon checks that it still beats.
DAEMON_CHECK_SECONDS = 30


def daemon_is_running(instance: dg.DagsterInstance) -> bool:
    """True when a daemon of this instance sent its run queue's heartbeat in the last 75 s."""
    queue = QueuedRunCoordinatorDaemon.daemon_type()
    statuses = get_daemon_statuses(instance, [queue], ignore_errors=True, heartbeat_tolerance_seconds=HEARTBEAT_TOLERANCE_SECONDS)
    return bool(statuses[queue].healthy)


class QueuedRuns:
    """Submits the build's runs to the queue and follows them until they end."""

    def __init__(self, root: Path, instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, daemon_alive: Callable[[], None]):
        self.root, self.instance, self.workspace, self.daemon_alive = root, instance, workspace, daemon_alive
        self.build_id = str(uuid.uuid4())
        self.submitted: list[str] = []

    def _create_run(self, location: CodeLocation, domain: QueuedDomain) -> dg.DagsterRun:
        """The run as `dagster job launch` creates it, limited to the domain's buildable assets."""
        from dagster._core.definitions.selector import JobSubsetSelector  # reason: Dagster's internal selector, needed only to submit

        repository = next(iter(location.get_repositories().values()))
        selector = JobSubsetSelector(
            location_name=location.name, repository_name=repository.name, job_name=domain.job,
            op_selection=None, asset_selection=domain.selection,
        )
        remote_job = location.get_job(selector)
        plan = location.get_execution_plan(remote_job, {}, step_keys_to_execute=None, known_state=None, instance=self.instance)
        return self.instance.create_run(
            job_name=domain.job, run_id=None, run_config={}, resolved_op_selection=None,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute, op_selection=None, status=None,
            root_run_id=None, parent_run_id=None, tags={**remote_job.tags, **domain.tags, BUILD_TAG: self.build_id},
            job_snapshot=remote_job.job_snapshot, execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot, remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(), asset_selection=frozenset(domain.selection) if domain.selection else None,
            asset_check_selection=None, asset_graph=repository.asset_graph,
        )

    def run_wave(self, wave: Sequence[QueuedDomain], on_event: Callable[[str, dg.EventLogEntry], None]) -> list[DomainRun | MeshError]:
        """Submit the wave's runs at once and wait for every one to end; a run that cannot be
        created or submitted fails its domain only."""
        context = self.workspace.create_request_context()
        run_ids: dict[str, str] = {}
        outcomes: dict[str, DomainRun | MeshError] = {}
        for domain in wave:
            try:
                run = self._create_run(context.get_code_location(domain.location), domain)
                self.submitted.append(run.run_id)
                self.instance.submit_run(run.run_id, context)
                run_ids[domain.name] = run.run_id
            except Exception as exc:
                outcomes[domain.name] = MeshError(f"could not submit the run of {domain.job}: {' '.join(str(exc).split())}")
        cursors: dict[str, str | None] = dict.fromkeys(run_ids)
        events: dict[str, list[dg.DagsterEvent]] = {name: [] for name in run_ids}
        while len(outcomes) < len(wave):
            self.daemon_alive()
            for name, run_id in run_ids.items():
                if name in outcomes:
                    continue
                run = self.instance.get_run_by_id(run_id)  # read before the events: none lands after the run ends
                cursors[name] = relay_new_events(self.instance, run_id, cursors[name], events[name], lambda entry, n=name: on_event(n, entry))
                if run is not None and run.is_finished:
                    success = run.status == dg.DagsterRunStatus.SUCCESS
                    outcomes[name] = DomainRun(run_id, success, events[name], None if success else f"run {run_id} ended {run.status.value}")
            time.sleep(0.5)
        return [outcomes[domain.name] for domain in wave]

    def cancel_unfinished(self, wait_seconds: float = 60) -> int:
        """Cancel the build's runs still queued or running (Ctrl-C, SIGTERM, an error): the
        coordinator drops a queued run from the queue and asks the launcher to stop a running one.
        Waits (up to `wait_seconds`) for them to end before the daemon goes, then marks failed any
        that did not and frees their pool slots: a run left holding its domain's warehouse pool
        would make that domain's next run wait forever."""
        unfinished = [run_id for run_id in self.submitted if not self._finished(run_id)]
        canceled = sum(bool(self.instance.run_coordinator.cancel_run(run_id)) for run_id in unfinished)
        deadline = time.monotonic() + wait_seconds
        while unfinished and time.monotonic() < deadline:
            unfinished = [run_id for run_id in unfinished if not self._finished(run_id)]
            time.sleep(0.5)
        for run_id in unfinished:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                self.instance.report_run_failed(run)
        for run_id in self.submitted:
            self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        return canceled

    def _finished(self, run_id: str) -> bool:
        run = self.instance.get_run_by_id(run_id)
        return run is None or run.is_finished


def _die_with_parent() -> None:
    """The daemon a build started must not outlive it, even when the build is killed (Linux)."""
    os.setsid()  # its own group: the terminal's Ctrl-C reaches the build, which stops it in order
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _daemon_workspace(root: Path, locations: dict[str, str], folder: Path) -> Path:
    """A workspace of the build's locations only, as workspace.yaml names them: the daemon loads
    (and launches runs from) these, not every domain of the mesh."""
    path = folder / "workspace.yaml"
    entries = [{"python_module": {"module_name": module, "working_directory": str(root), "location_name": name}}
               for name, module in sorted(locations.items())]
    path.write_text(yaml.safe_dump({"load_from": entries}))
    return path


@contextlib.contextmanager
def build_daemon(root: Path, instance: dg.DagsterInstance, home: Path, locations: dict[str, str], say: Callable[[str], None]) -> Iterator[Callable[[], None]]:
    """A daemon for the build's duration, unless one already runs for the instance (a user's
    `mesh dev` or deployment daemon is left alone). Yields a check that raises once the build's
    daemon has exited: the build's runs would wait in the queue forever. It starts while the build
    loads its domains; submitted runs wait in the queue for its first pass."""
    if daemon_is_running(instance):
        checked = [time.monotonic()]

        def still_beating() -> None:
            if time.monotonic() - checked[0] < DAEMON_CHECK_SECONDS:
                return
            checked[0] = time.monotonic()
            if not daemon_is_running(instance):
                raise MeshError(f"the dagster daemon of the instance {home} stopped sending heartbeats while this build's runs waited in its queue; start it again (`mesh dev`) or build without --queued")

        yield still_beating
        return
    say(f"no dagster daemon is running for the instance {home}: starting one for this build")
    with tempfile.TemporaryDirectory(prefix="mesh-build-daemon-") as folder:
        command = [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(_daemon_workspace(root, locations, Path(folder)))]
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        daemon = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)

        def alive() -> None:
            if daemon.poll() is not None:
                raise MeshError(f"the dagster daemon started for this build exited with code {daemon.returncode}")

        try:
            yield alive
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            say("stopped the dagster daemon this build started")


@contextlib.contextmanager
def queued_runs(root: Path, instance: dg.DagsterInstance, home: Path, locations: dict[str, str], say: Callable[[str], None]) -> Iterator[QueuedRuns]:
    """The build's submitter, with a daemon to launch its runs; on Ctrl-C the build's unfinished
    runs are canceled before the daemon (if the build started it) stops."""
    target = _InProcessLocations(root, tuple(sorted(locations.items())))
    with build_daemon(root, instance, home, locations, say) as daemon_alive, WorkspaceProcessContext(instance, target) as workspace:
        runs = QueuedRuns(root, instance, workspace, daemon_alive)
        with _sigterm_interrupts():
            try:
                yield runs
            except KeyboardInterrupt:
                canceled = runs.cancel_unfinished()
                raise MeshError(f"interrupted: canceled {canceled} unfinished run(s) of this build (tag {BUILD_TAG}={runs.build_id})") from None
            except BaseException:
                # Whatever stops the build (its daemon exited, an error while recording), its
                # queued runs must not wait for tomorrow's daemon to launch them.
                runs.cancel_unfinished()
                raise


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a CI `timeout`, `kill`) stops a queued build as Ctrl-C does: its runs are canceled.
    Only the main thread may set a handler; elsewhere the default stays."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
