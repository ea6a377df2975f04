"""Where the mesh lives: the one place that reads the environment.

Everything is resolved on each call, never at import time, so tests and the CLI can point
`MESH_HOME` elsewhere without reloading modules.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from mesh_platform.model.access import storage_identity
from mesh_platform.model.errors import MeshError
from mesh_platform.model.layout import WORKSPACE_FILE

MESH_HOME_ENV = "MESH_HOME"
STORAGE_ROOT_ENV = "MESH_STORAGE_ROOT"
STORAGE_OPTIONS_ENV = "MESH_STORAGE_OPTIONS"
MASKING_KEY_ENV = "MESH_MASKING_KEY"
IDENTITIES_ENV = "MESH_STORAGE_IDENTITIES"
INTERVAL_ENV = "MESH_AUTOMATION_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 30
PROJECT_ROOT_ENV = "MESH_PROJECT_ROOT"
EXECUTOR_ENV = "MESH_EXECUTOR"
# celery: steps on Celery workers (MESH_CELERY_BROKER); k8s: each step a Kubernetes job (dagster-k8s,
# configured by the deployment: docs/deployment.md).
EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
CELERY_BROKER_ENV = "MESH_CELERY_BROKER"
CELERY_BACKEND_ENV = "MESH_CELERY_BACKEND"
INSTANCE_STORAGE_ENV = "MESH_INSTANCE_STORAGE"
# Where the Dagster instance keeps runs, events and schedules: SQLite files under the instance
# folder (embedded, one machine), or a Postgres server every process of the mesh shares.
INSTANCE_STORAGES = ("sqlite", "postgres")
POSTGRES_URL_ENV = "MESH_POSTGRES_URL"
BUILD_MODE_ENV = "MESH_BUILD_MODE"
# in_process: `mesh build` runs each domain's run itself (the fast local path); queued: it submits
# one run per domain to the instance's run queue, which the daemon launches.
BUILD_MODES = ("in_process", "queued")
# In-process by default: process-per-step start-up cost more than the work itself for domains of
# one to three steps (the whole demo mesh: 41.8 s in-process, 76.5 s multiprocess on 2 cores;
# docs/benchmarks.md, "Executor of mesh build").
DEFAULT_EXECUTOR = "in_process"
DAGSTER_HOME_ENV = "DAGSTER_HOME"
BUILD_CONCURRENCY_ENV = "MESH_BUILD_CONCURRENCY"


def find_project_root(start: str | Path | None = None) -> Path:
    """The folder holding `workspace.yaml`, searched upwards from `start` (default: the cwd)."""
    if os.environ.get(PROJECT_ROOT_ENV):
        return Path(os.environ[PROJECT_ROOT_ENV]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    raise FileNotFoundError(
        f"no {WORKSPACE_FILE} found in {here} or any parent folder; run from inside a mesh project "
        f"or set {PROJECT_ROOT_ENV}"
    )


def mesh_home(project_root: str | Path) -> Path:
    """Local state of the mesh: Dagster instance, domain warehouses, and by default the ports."""
    configured = os.environ.get(MESH_HOME_ENV)
    home = Path(configured) if configured else Path(project_root) / ".mesh"
    return home.resolve()


def storage_root(project_root: str | Path) -> str:
    """Root of every output port. A local folder by default; may be an object-store URI
    (`s3://bucket/mesh`), which deltalake reads and writes natively."""
    configured = os.environ.get(STORAGE_ROOT_ENV)
    if configured:
        return configured.rstrip("/")
    return str(mesh_home(project_root) / "storage")


def storage_options() -> dict[str, str]:
    """Options of the port store (credentials, endpoint, region), from `MESH_STORAGE_OPTIONS`: a JSON
    object of strings, e.g. {"AWS_ENDPOINT_URL": "http://127.0.0.1:8333", "AWS_ALLOW_HTTP": "true"}.
    Unset, the store's own defaults hold (deltalake reads the usual AWS_* variables itself).
    A refusal names the variable and the option, never a value: they may be secrets."""
    raw = os.environ.get(STORAGE_OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MeshError(f"{STORAGE_OPTIONS_ENV} is not valid JSON ({exc.msg} at character {exc.pos}); expected an object of option names to strings") from None
    if not isinstance(options, dict):
        raise MeshError(f"{STORAGE_OPTIONS_ENV} must be a JSON object of option names to strings, found a JSON {type(options).__name__}")
    for name, value in options.items():
        if not isinstance(value, str):
            raise MeshError(f"{STORAGE_OPTIONS_ENV}: option {name!r} must be a string, found a JSON {type(value).__name__}")
    return options


def storage_is_remote(project_root: str | Path) -> bool:
    """True when the ports live on an object store (`s3://...`), not on this machine's disk."""
    root = storage_root(project_root)
    return "://" in root and not root.startswith("file://")


def identities_dir(project_root: str | Path) -> Path:
    """The folder of storage identities' credentials, one `<identity>.json` each
    ({"access_key_id": ..., "secret_access_key": ...}, owner-only): `MESH_STORAGE_IDENTITIES`, else
    `<MESH_HOME>/identities`. `mesh access apply` writes it on a laptop; a deployment mounts into each
    code location the one file of its domain's identity."""
    configured = os.environ.get(IDENTITIES_ENV)
    return Path(configured).resolve() if configured else mesh_home(project_root) / "identities"


def identity_file(project_root: str | Path, identity: str) -> Path:
    return identities_dir(project_root) / f"{identity}.json"


def read_identity(path: Path, identity: str) -> dict[str, str]:
    """An identity's keys from its file (a refusal names the file and the field, never a value)."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MeshError(f"storage identity {identity!r}: {path} is not valid JSON ({exc.msg}); expected access_key_id and secret_access_key") from None
    for name in ("access_key_id", "secret_access_key"):
        if not isinstance(data, dict) or not isinstance(data.get(name), str) or not data[name]:
            raise MeshError(f"storage identity {identity!r}: {path} has no {name} (a non-empty string)")
    return {"AWS_ACCESS_KEY_ID": data["access_key_id"], "AWS_SECRET_ACCESS_KEY": data["secret_access_key"]}


_KEY_OPTIONS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Credentials the store's own chain finds without keys in the options: keys in the environment, a
# profile, a Kubernetes service account's web identity, a container's role.
_AMBIENT_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


def storage_options_for(project_root: str | Path, acting: str | None) -> dict[str, str]:
    """The port store's options when acting for domain `acting` (None: the platform itself, for the
    catalog, contract export and `mesh access`): the shared `MESH_STORAGE_OPTIONS` (endpoint, region)
    plus that identity's own keys when the ports are remote. The keys come from the identity's file
    (`identities_dir`); without one, from keys in the options or the store's own credential chain
    (the AWS_* variables, a profile, a workload's role): the identity a deployment gave this code
    location, or one shared by everything, where the store cannot tell domains apart (docs/deployment.md).
    Neither: a MeshError naming the identity and where its keys were looked for."""
    options = storage_options()
    if not storage_is_remote(project_root):
        return options
    identity = storage_identity(acting)
    folder = identities_dir(project_root)
    if os.environ.get(IDENTITIES_ENV) and not folder.is_dir():
        raise MeshError(f"{IDENTITIES_ENV} names {folder}, which is not a folder of storage identities' keys")
    path = identity_file(project_root, identity)
    if path.is_file():
        return {**options, **read_identity(path, identity)}
    if folder.is_dir() and any(folder.glob("*.json")):
        # A mesh with identities: one missing is a mistake, never a reason to act as whatever
        # the environment holds (the platform's keys, say), which the store would not tell apart.
        raise MeshError(f"no storage credentials for identity {identity!r}: {path} is missing beside the other identities' keys (`mesh access apply` writes it)")
    if any(options.get(name) for name in _KEY_OPTIONS) or any(os.environ.get(name) for name in _AMBIENT_CREDENTIALS):
        return options
    raise MeshError(
        f"no storage credentials for identity {identity!r}: expected {path} (`mesh access apply` writes it), "
        f"or keys in {STORAGE_OPTIONS_ENV} / AWS_ACCESS_KEY_ID"
    )


def dagster_home(project_root: str | Path) -> Path:
    """The Dagster instance every run of the mesh is recorded in: `mesh build`'s, and those
    `mesh dev` launches and shows. `DAGSTER_HOME` when set (so `dg dev` and `dagster dev`, which
    read it too, show the same runs), else `<MESH_HOME>/dagster`."""
    configured = os.environ.get(DAGSTER_HOME_ENV)
    if not configured:
        return mesh_home(project_root) / "dagster"
    if not Path(configured).is_absolute():
        # Dagster refuses a relative DAGSTER_HOME: resolving it here would split one instance in two.
        raise MeshError(f"{DAGSTER_HOME_ENV} must be an absolute path (as Dagster requires), found {configured!r}")
    return Path(configured)


# Nothing leaves the machine at run time (Dagster's webserver and daemon would otherwise post usage
# logs, with no time limit). Run monitoring lets `mesh dev`'s daemon fail the runs it launched that
# never start (STARTING or NOT_STARTED longer than the timeout, e.g. when the UI or daemon died while
# launching), and frees the pool slots a run that died still held. The default run launcher cannot
# check a STARTED run's worker: runs of a killed `mesh build` are closed (and their slots freed) by
# the next `mesh build` or `mesh dev` (orphaned_runs.py).
INSTANCE_CONFIG_HEADER = "# Written by the mesh from its settings (MESH_INSTANCE_STORAGE); rewritten when they change. Remove this line to keep your own edits.\n"
_MONITORING = """\
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  cancel_timeout_seconds: 300
  poll_interval_seconds: 60
  free_slots_after_run_end_seconds: 60
"""
# Runs launched through the instance (the UI, schedules, automation, `mesh build --queued`) wait in
# its queue for the daemon. Every op that writes a domain's DuckDB warehouse declares the pool
# `mesh_warehouse_<domain>` (warehouse_pool): a limit of 1 lets one such op run at a time across all
# runs, processes and hosts sharing the instance. Pools are per op, so two domains' runs still overlap.
_QUEUE_AND_POOLS = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools:
    default_limit: 1
"""
# Runs, events and schedules in one Postgres every process of the mesh shares. The file names the
# variable, never its value: the URL holds a password.
_POSTGRES_STORAGE = f"""\
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_ENV}
"""
# What earlier versions wrote, without the header: upgraded in place like a file the mesh wrote.
EARLIER_INSTANCE_CONFIGS = ("telemetry:\n  enabled: false\n", _MONITORING.replace("  free_slots_after_run_end_seconds: 60\n", ""))


def instance_config(storage: str) -> str:
    """The instance's dagster.yaml for `storage` (one of INSTANCE_STORAGES): SQLite files under the
    instance folder (Dagster's default, so no storage section) or Postgres. Pure."""
    if storage not in INSTANCE_STORAGES:
        raise MeshError(f"{INSTANCE_STORAGE_ENV} must be one of {', '.join(INSTANCE_STORAGES)}, found {storage!r}")
    return INSTANCE_CONFIG_HEADER + _MONITORING + _QUEUE_AND_POOLS + (_POSTGRES_STORAGE if storage == "postgres" else "")


INSTANCE_CONFIG = instance_config("sqlite")


def warehouse_pool(domain: str) -> str:
    """The Dagster concurrency pool of the ops that write `domain`'s warehouse (limit 1)."""
    return f"mesh_warehouse_{domain}"


def prepared_dagster_home(project_root: str | Path) -> Path:
    """The instance folder, with the dagster.yaml the settings call for: written on first use and
    rewritten when the settings change. A config a user wrote (no header) is kept as it is."""
    home = dagster_home(project_root)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_config(instance_storage())
    current = config.read_text() if config.exists() else None
    if current is None or current in EARLIER_INSTANCE_CONFIGS or (current.startswith(INSTANCE_CONFIG_HEADER) and current != wanted):
        # Build processes prepare the folder at once: each writes whole, one rename wins.
        partial = home / f".dagster.yaml.{os.getpid()}.tmp"
        partial.write_text(wanted)
        os.replace(partial, config)
    elif not current.startswith(INSTANCE_CONFIG_HEADER) and instance_storage() == "postgres" and "postgres" not in current:
        # The user's own config would record every run in its own storage while the mesh says Postgres.
        raise MeshError(f"{INSTANCE_STORAGE_ENV}=postgres, but {config} is a config of your own (no mesh header) with no postgres storage: add it there, or delete the file to let the mesh write it")
    return home


def warehouse_path(project_root: str | Path, domain: str) -> Path:
    """Each domain's private DuckDB file: only that domain's dbt project ever opens it."""
    return mesh_home(project_root) / "warehouse" / f"{domain}.duckdb"


def masking_key(project_root: str | Path) -> bytes:
    """The secret of the keyed hash that masks personal data. From `MESH_MASKING_KEY` (a
    deployment sets it from its secret store); otherwise, on local storage only, a random key
    created once per mesh home, readable by its owner only. With remote ports every code location
    must mask with the same key, and a key file on one machine is not that: the setting is required."""
    configured = os.environ.get(MASKING_KEY_ENV)
    if configured:
        return configured.encode()
    if storage_is_remote(project_root):
        raise MeshError(
            f"{MASKING_KEY_ENV} is not set: with ports on an object store ({STORAGE_ROOT_ENV}) every code location "
            "masks personal data with one shared key, which the deployment sets from its secret store"
        )
    path = mesh_home(project_root) / "masking.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting together agree on one key.
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)  # the creator has not written it yet
    raise RuntimeError(f"the masking key at {path} is empty; delete it to create a new one")


def automation_interval_seconds() -> int:
    """Seconds between two evaluations of a location's automation sensors (default 30)."""
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        return max(1, int(raw)) if raw else DEFAULT_INTERVAL_SECONDS
    except ValueError:
        raise MeshError(f"{INTERVAL_ENV} must be a whole number of seconds, found {raw!r}") from None


def run_executor() -> str:
    """How the steps of a run execute, for every run of the mesh (`mesh build`, schedules,
    automation, launches from the UI), from `MESH_EXECUTOR`: `in_process` (default: one process,
    steps in sequence), `multiprocess` (one process per step, steps in parallel), `celery` (steps on
    Celery workers) or `k8s` (each step a Kubernetes job)."""
    return _choice(EXECUTOR_ENV, EXECUTORS, DEFAULT_EXECUTOR)


def _choice(env: str, choices: tuple[str, ...], default: str) -> str:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise MeshError(f"{env} must be one of {', '.join(choices)}, found {raw!r}")
    return raw


def instance_storage() -> str:
    """Where the Dagster instance keeps its runs, events and schedules, from `MESH_INSTANCE_STORAGE`:
    `sqlite` (default) or `postgres`, which needs `MESH_POSTGRES_URL`."""
    storage = _choice(INSTANCE_STORAGE_ENV, INSTANCE_STORAGES, "sqlite")
    if storage == "postgres":
        postgres_url()
    return storage


def postgres_url() -> str:
    """The instance's Postgres (`postgresql://user:password@host:port/database`), from
    `MESH_POSTGRES_URL`. It holds a password: refusals name the variable, never the value, and
    the instance's dagster.yaml names the variable, not its value."""
    raw = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not raw:
        raise MeshError(f"{INSTANCE_STORAGE_ENV}=postgres needs {POSTGRES_URL_ENV} (postgresql://user:password@host:port/database)")
    if not raw.startswith(("postgresql://", "postgres://")):
        raise MeshError(f"{POSTGRES_URL_ENV} must be a postgresql:// URL (postgresql://user:password@host:port/database)")
    return raw


def build_mode() -> str:
    """How `mesh build` runs its domains, from `MESH_BUILD_MODE`: `in_process` (default) or
    `queued` (one run per domain through the instance's run queue)."""
    return _choice(BUILD_MODE_ENV, BUILD_MODES, "in_process")


def celery_broker() -> str | None:
    """The Celery broker steps are sent to (`redis://host:port/0`), from `MESH_CELERY_BROKER`;
    required when `MESH_EXECUTOR=celery`, unused otherwise."""
    raw = os.environ.get(CELERY_BROKER_ENV, "").strip()
    if not raw and run_executor() == "celery":
        raise MeshError(f"{EXECUTOR_ENV}=celery needs {CELERY_BROKER_ENV} (the broker's URL, e.g. redis://127.0.0.1:6379/0)")
    return raw or None


def celery_backend() -> str | None:
    """Where Celery keeps step results (`MESH_CELERY_BACKEND`); unset: the broker itself."""
    return os.environ.get(CELERY_BACKEND_ENV, "").strip() or celery_broker()


def celery_backend_is_set() -> bool:
    return bool(os.environ.get(CELERY_BACKEND_ENV, "").strip())


# Kubernetes (MESH_EXECUTOR=k8s): each step a Kubernetes job that dagster-k8s starts from the code
# location's own pod; these name what every such job of the location gets (docs/deployment.md,
# "Executors: Celery workers and Kubernetes jobs"). Unset, dagster-k8s takes the run's pod's image.
K8S_NAMESPACE_ENV = "MESH_K8S_NAMESPACE"  # default: "default"
K8S_IMAGE_ENV = "MESH_K8S_IMAGE"  # the domain's image; default: the run's own
K8S_SERVICE_ACCOUNT_ENV = "MESH_K8S_SERVICE_ACCOUNT"  # default: the namespace's default account
K8S_SECRET_ENV = "MESH_K8S_SECRET"  # the Secret whose keys become the step's environment
K8S_CPU_ENV = "MESH_K8S_CPU"  # e.g. "500m": a step's CPU request and limit
K8S_MEMORY_ENV = "MESH_K8S_MEMORY"  # e.g. "2Gi": a step's memory request and limit


@dataclass(frozen=True)
class K8sSettings:
    namespace: str = "default"
    image: str | None = None
    service_account: str | None = None
    secret: str | None = None  # holds the domain's storage identity's keys and MESH_MASKING_KEY
    cpu: str | None = None
    memory: str | None = None


def k8s_settings() -> K8sSettings:
    """The Kubernetes jobs' settings of this code location, from the MESH_K8S_* variables. Names
    only: the secret's values never pass through the mesh, Kubernetes injects them into the pod."""
    def value(env: str) -> str | None:
        raw = os.environ.get(env, "").strip()
        if raw and any(c.isspace() for c in raw):
            raise MeshError(f"{env} must be one Kubernetes name or quantity without spaces, found {raw!r}")
        return raw or None

    return K8sSettings(
        namespace=value(K8S_NAMESPACE_ENV) or "default", image=value(K8S_IMAGE_ENV),
        service_account=value(K8S_SERVICE_ACCOUNT_ENV), secret=value(K8S_SECRET_ENV),
        cpu=value(K8S_CPU_ENV), memory=value(K8S_MEMORY_ENV),
    )


def build_concurrency() -> int:
    """How many domains `mesh build` runs at once when none depends on another, from
    `MESH_BUILD_CONCURRENCY`. By default half the cores: a domain's run keeps about two busy
    (the run's own process and dbt or DuckDB), so on 2 cores domains still run one by one."""
    raw = os.environ.get(BUILD_CONCURRENCY_ENV, "").strip()
    if not raw:
        return max(1, (os.cpu_count() or 1) // 2)
    if not raw.isdigit() or int(raw) < 1:
        raise MeshError(f"{BUILD_CONCURRENCY_ENV} must be a whole number of domains, 1 or more, found {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class RunSettings:
    """Where and how the mesh's runs execute, read once per command or code location load."""

    executor: str  # one of EXECUTORS
    instance_home: Path  # the Dagster instance folder, with its dagster.yaml
    build_concurrency: int = 1  # domains `mesh build` runs at once (build_concurrency)
    instance_storage: str = "sqlite"  # one of INSTANCE_STORAGES
    build_mode: str = "in_process"  # one of BUILD_MODES
    celery_broker: str | None = None  # the broker's URL when executor == "celery"


def run_settings(project_root: str | Path) -> RunSettings:
    """The run settings of the mesh at `project_root`; a bad value raises a MeshError naming the
    variable. Reads only: whoever opens the instance prepares its folder (prepared_dagster_home)."""
    return RunSettings(
        executor=run_executor(), instance_home=dagster_home(project_root), build_concurrency=build_concurrency(),
        instance_storage=instance_storage(), build_mode=build_mode(), celery_broker=celery_broker(),
    )


# --- compute engines of dbt domains (runtime/engines) ---------------------------------------

ENGINES_ENV = "MESH_ENGINES"
SPARK_METHOD_ENV = "MESH_SPARK_METHOD"
SPARK_MASTER_ENV = "MESH_SPARK_MASTER"
SPARK_CONF_ENV = "MESH_SPARK_CONF"
SPARK_PROFILE_ENV = "MESH_SPARK_PROFILE"
# dbt-spark's connection methods: `session` runs Spark inside dbt's own process (here, and on a
# driver host); thrift/http/odbc reach a Spark Thrift server or Databricks (MESH_SPARK_PROFILE).
SPARK_METHODS = ("session", "thrift", "http", "odbc")
DEFAULT_SPARK_MASTER = "local[2]"


def _json_object(env: str, expected: str) -> dict[str, str]:
    """A JSON object of strings from `env` (empty when unset). Refusals name the variable and the
    key, never a value: a profile may hold a token."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MeshError(f"{env} is not valid JSON ({exc.msg} at character {exc.pos}); expected {expected}") from None
    if not isinstance(data, dict):
        raise MeshError(f"{env} must be {expected}, found a JSON {type(data).__name__}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise MeshError(f"{env}: {key!r} must be a string, found a JSON {type(value).__name__}")
    return data


def engines_override(domains: list[str] | tuple[str, ...], engines: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Which domains run their dbt project on another engine than their domain.yaml says, from
    `MESH_ENGINES` (a JSON object domain -> engine, e.g. {"punctuality": "spark"}): a deployment
    moves a domain to Spark without touching the domain. An unknown domain or engine is refused."""
    chosen = _json_object(ENGINES_ENV, 'a JSON object of domain names to engine names, e.g. {"punctuality": "spark"}')
    for domain, engine in chosen.items():
        if domain not in domains:
            raise MeshError(f"{ENGINES_ENV} names domain {domain!r}, which is not a domain of this mesh (domains: {', '.join(sorted(domains))})")
        if engine not in engines:
            raise MeshError(f"{ENGINES_ENV} gives domain {domain!r} engine {engine!r}; expected one of: {', '.join(sorted(engines))}")
    return chosen


def spark_method() -> str:
    """How dbt reaches Spark (`MESH_SPARK_METHOD`): `session` (default: Spark in dbt's process,
    on `MESH_SPARK_MASTER`), or `thrift`, `http`, `odbc` with MESH_SPARK_PROFILE's connection."""
    return _choice(SPARK_METHOD_ENV, SPARK_METHODS, "session")


def spark_master() -> str:
    """The Spark master of a session (`MESH_SPARK_MASTER`, default `local[2]`): `local[N]` here,
    `spark://host:7077` or `yarn` for a cluster the driver host reaches."""
    return os.environ.get(SPARK_MASTER_ENV, "").strip() or DEFAULT_SPARK_MASTER


def spark_conf() -> dict[str, str]:
    """Extra Spark configuration of a session (`MESH_SPARK_CONF`, a JSON object of strings, e.g.
    {"spark.driver.memory": "4g"}); the platform's own (where the session writes) always wins."""
    conf = _json_object(SPARK_CONF_ENV, 'a JSON object of Spark settings to strings, e.g. {"spark.driver.memory": "4g"}')
    for key in conf:
        if not key.startswith("spark."):
            raise MeshError(f"{SPARK_CONF_ENV}: {key!r} is not a Spark setting (they start with 'spark.')")
    return conf


def spark_profile() -> dict[str, str]:
    """Connection fields of the dbt-spark profile for thrift/http/odbc (`MESH_SPARK_PROFILE`, a JSON
    object: host, port, token, cluster, endpoint, user, ...); a deployment sets it from its secret
    store. The platform's own fields (type, method, schema, threads) cannot be replaced."""
    profile = _json_object(SPARK_PROFILE_ENV, 'a JSON object of dbt-spark profile fields to strings, e.g. {"host": "spark-thrift", "port": "10000"}')
    for key in profile:
        if key in ("type", "method", "schema", "database", "threads", "server_side_parameters"):
            raise MeshError(f"{SPARK_PROFILE_ENV}: {key!r} is set by the platform (from MESH_SPARK_METHOD, the domain and MESH_SPARK_CONF)")
    return profile


def spark_home(project_root: str | Path, domain: str) -> Path:
    """Everything a domain's Spark session writes (warehouse, metastore, scratch): never the cwd."""
    return mesh_home(project_root) / "spark" / domain
