"""The background services chiso starts (the simulator, Airflow's services, Superset): each
in a session of its own, its pid in a file, stopped as a whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, a dead child not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"
    return True


def stop_groups(pids: list[int], timeout: float = 30) -> None:
    """Stop the process groups led by `pids`: SIGTERM to all, then SIGKILL to any still there
    after `timeout` seconds."""
    running = [pid for pid in pids if alive(pid)]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in running:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for pid in running:
        _reap(pid, deadline)


def _reap(pid: int, deadline: float) -> None:
    """Collect a stopped leader this process started (a zombie until then, holding its exit
    status, and the CPU it used uncounted in this process's children). One started by another
    process (`chiso airflow down` after `up`) is not ours to wait for."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
