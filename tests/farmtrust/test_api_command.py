"""``farmtrust api``'s default process count: one per core this process may actually run on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from farmtrust.commands.api import cores_available

PRINT_CORES = "from farmtrust.commands.api import cores_available; print(cores_available())"


def _in_child(*prefix: str) -> int:
    out = subprocess.run([*prefix, sys.executable, "-c", PRINT_CORES], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_without_a_quota_it_is_what_nproc_counts(tmp_path):
    # coreutils' nproc counts the CPUs in the process's affinity mask: an independent count. It also obeys
    # OMP_NUM_THREADS / OMP_THREAD_LIMIT, which torch's import sets in this process: leave them out
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT")}
    nproc = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True, env=env).stdout)
    assert cores_available(tmp_path / "absent") == nproc


def test_pinned_to_one_core_it_is_one():
    assert _in_child("taskset", "-c", str(min(os.sched_getaffinity(0)))) == 1


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", len(os.sched_getaffinity(0))),
        ("100000 100000\n", 1),  # docker --cpus 1
        ("50000 100000\n", 1),  # half a core still runs one process
        ("150000 100000\n", min(2, len(os.sched_getaffinity(0)))),  # 1.5 cores: two processes, at most the mask
        ("6400000 100000\n", len(os.sched_getaffinity(0))),  # a quota above the mask does not add cores
        ("garbage\n", len(os.sched_getaffinity(0))),
    ],
)
def test_a_cgroup_quota_caps_it(tmp_path, cpu_max, expected):
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    assert cores_available(path) == expected
