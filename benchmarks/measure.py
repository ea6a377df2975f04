"""How the benchmarks measure: wall clock, CPU, peak RSS, in this process or in a child process
tree, and the machine facts a recorded figure needs beside it (docs/benchmarks.md).

In this process: `clocked` (wall and process CPU of one call), `Step` and `rounds` (best of N in
alternating rounds), `timed` (a wrapper that reports each call's span, for timing a platform
function from outside). In a child process tree: `measure` (wall, CPU, peak RSS of the largest
process and of the whole tree) and `fresh_wall` (the start-up a fresh interpreter pays).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# -- the machine ----------------------------------------------------------------------------------

def load_average() -> str:
    """The 1, 5 and 15 minute load averages: a busy machine skews every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def git_revision() -> str:
    """The commit measured, flagged when the platform has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "platform"], cwd=REPO, capture_output=True, text=True).stdout
        return head + (" (platform/ has uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_facts(packages: list[str], *, nice: bool = False) -> str:
    """Two lines for the head of a report: the machine and its load, then the versions measured."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    first = (f"{dt.datetime.now():%Y-%m-%d %H:%M} · {platform.platform()} · {os.cpu_count()} CPUs · {memory:.0f} GiB · "
             f"load average {os.getloadavg()[0]:.2f}" + (f" · nice {os.nice(0)}" if nice else ""))
    versions = " · ".join(f"{p} {package_version(p)}" for p in packages)
    return f"{first}\nPython {platform.python_version()} · {versions} · commit {git_revision()}"


def peak_rss_gib() -> float:
    """This process's peak resident set so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# -- in this process ------------------------------------------------------------------------------

def clocked(run: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall s, CPU s) of one call. CPU is the process's, every thread (DuckDB's,
    delta-rs's); garbage is collected first so an earlier run's leftovers are not charged here."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


@dataclass
class Step:
    """One measured step, run once per round; its best run is reported."""

    name: str
    run: Callable[[], object]
    setup: Callable[[], None] | None = None  # untimed, before each run
    teardown: Callable[[], None] | None = None  # untimed, after each run
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: object = None
    peak_rss_mb: float = 0.0  # this process's peak after the latest run: an upper bound for the step

    def once(self) -> None:
        if self.setup:
            self.setup()
        self.result, wall, cpu = clocked(self.run)
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.peak_rss_mb = peak_rss_gib() * 1024
        if self.teardown:
            self.teardown()
        print(f"  {self.name:<12} run {len(self.wall)}: {self.wall[-1]:6.2f} s wall, {self.cpu[-1]:6.2f} s CPU", flush=True)

    @property
    def best(self) -> tuple[float, float]:
        """Wall and CPU of the fastest run."""
        return min(zip(self.wall, self.cpu))


def rounds(steps: list, repeat: int) -> None:
    """Run the steps (anything with `once()`) in alternating rounds, so that load elsewhere on the
    machine hits them all."""
    for i in range(repeat):
        print(f" round {i + 1}/{repeat} (load average {os.getloadavg()[0]:.2f})", flush=True)
        for step in steps:
            step.once()


def timed(fn: Callable, record: Callable[[float, float, tuple, dict], None]) -> Callable:
    """`fn`, reporting each call's start and end (perf_counter) and arguments to `record`, even
    when it raises. For timing a platform function from outside by replacing the name its
    caller looks up; the wrapper costs microseconds. Deliberately not functools.wraps: `fn` may
    be a class (DeltaTable), whose attributes must not be copied onto a function."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            record(start, time.perf_counter(), args, kwargs)

    return wrapper


def best_wall(run: Callable[[], object], repeat: int) -> float:
    """The fastest wall time of `repeat` calls: the figure least disturbed by other work."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


# -- in a child process tree ----------------------------------------------------------------------

# Runs the commands in sequence; its RUSAGE_CHILDREN is then theirs alone, whatever they spawn.
WRAPPER = r"""
import json, resource, subprocess, sys, time
spec = json.loads(sys.argv[1])
walls = []
started = time.perf_counter()
for command in spec["commands"]:
    t = time.perf_counter()
    done = subprocess.run(command, cwd=spec["cwd"], env=spec["env"], stdout=spec.get("stdout") and open(spec["stdout"], "a"), stderr=subprocess.STDOUT if spec.get("stdout") else None)
    walls.append(time.perf_counter() - t)
    if done.returncode != 0:
        print(json.dumps({"failed": command, "returncode": done.returncode}))
        sys.exit(1)
wall = time.perf_counter() - started
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "user": r.ru_utime, "sys": r.ru_stime, "maxrss_kb": r.ru_maxrss, "walls": walls}))
"""

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root_pid: int) -> int:
    """Summed RSS in bytes of a process and all its descendants, from /proc (shared pages count
    once per process)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        except (OSError, ValueError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError):
            pass
        stack += children.get(pid, [])
    return total


def measure(label: str, commands: list[list[str]], *, env: dict, cwd: Path, log: Path | None = None) -> dict[str, Any]:
    """Run commands in sequence in a fresh wrapper process; its children's rusage is this run's.
    Returns wall, cpu (user + sys), maxrss (largest single process) and tree_rss (peak of the
    tree's summed RSS, sampled every 0.1 s), in seconds and bytes, and each command's wall."""
    spec = {"commands": commands, "env": env, "cwd": str(cwd), "stdout": str(log) if log else None}
    process = subprocess.Popen([sys.executable, "-c", WRAPPER, json.dumps(spec)], stdout=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    stop.set()
    sampler.join()
    result = json.loads(out.strip().splitlines()[-1])
    if process.returncode != 0:
        raise SystemExit(f"{label}: {result} failed" + (f"; see {log}" if log else ""))
    result.update(label=label, cpu=result["user"] + result["sys"], tree_rss=peak[0], maxrss=result["maxrss_kb"] * 1024)
    print(f"  {label}: {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU, peak RSS {result['maxrss'] / 2**20:.0f} MiB "
          f"(tree {result['tree_rss'] / 2**20:.0f} MiB)", flush=True)
    return result


def fresh_wall(code: str, cwd: Path, repeat: int, env: dict | None = None) -> float:
    """Best wall time of a fresh interpreter running `code`: the start-up a new process pays."""
    return best_wall(lambda: subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True), repeat)
