"""CPU time spent by the server side of a benchmark: the API's processes and the database's backends.

Read from the operating system (psutil: user + system time per process), so it counts the work each
request really caused in Python and in PostgreSQL, whatever the wall-clock latency on a shared machine.
PostgreSQL's shared background processes (WAL writer, checkpointer) serve every database of the server
and are left out, as are backends that exit during the run (the API's pool keeps its connections open).
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class CpuSeconds:
    """CPU seconds (user + system) of the API's processes and of the benchmark database's backends."""

    api_s: float
    db_s: float

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        """The CPU time spent between two samples."""
        return CpuSeconds(api_s=self.api_s - other.api_s, db_s=self.db_s - other.db_s)


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class ServerCpu:
    """Samples the CPU time of an API server's process tree and of one database's backends.

    A backend is recognised by its process title (``postgres: [CLUSTER:] USER DBNAME HOST(PORT) STATE``),
    so the sampler must run on the database's machine.
    """

    def __init__(self, *, api_pid: int, db_name: str) -> None:
        """Sample the tree under ``api_pid`` (the uvicorn supervisor and its workers) and ``db_name``'s backends."""
        self.api_pid = api_pid
        self.db_name = db_name
        self._seen: dict[int, psutil.Process] = {}

    def _backends(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            words = " ".join(process.info["cmdline"] or ()).split()
            if words[:1] == ["postgres:"] and self.db_name in words[1:5]:  # Debian adds "15/main:" first
                found.append(process)
        return found

    def sample(self) -> CpuSeconds:
        """The CPU seconds used so far by the API's processes and the database's backends alive now."""
        api = 0.0
        try:
            root = psutil.Process(self.api_pid)
            for process in (root, *root.children(recursive=True)):
                api += _cpu_s(self._seen.setdefault(process.pid, process))
        except psutil.NoSuchProcess:
            pass
        db = 0.0
        for process in self._backends():
            try:
                db += _cpu_s(self._seen.setdefault(process.pid, process))
            except psutil.NoSuchProcess:
                continue
        return CpuSeconds(api_s=api, db_s=db)
