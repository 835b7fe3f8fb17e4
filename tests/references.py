"""What one test module hands another in the same run: a result it computed, by name, in the
run's root folder.

The Celery test compares its marts with what LocalExecutor published in test_airflow_scheduler.
Both modules are long and mostly wait on Airflow, so they run side by side on two xdist workers
instead of one after the other: the LocalExecutor module publishes its checksums here, the
Celery module waits for them. A module that ends without publishing what it promised leaves a
`.ended` mark, so nobody waits out a timeout for a result that will never come.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.warehouses import root


def _folder() -> Path:
    folder = root() / "references"
    folder.mkdir(exist_ok=True)
    return folder


def publish(name: str, value: Any) -> None:
    """Write `value` (JSON) under `name`, atomically: a reader sees all of it or nothing."""
    target = _folder() / f"{name}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, target)


def end(module: str) -> None:
    """`module` has finished: whatever it has not published by now it never will."""
    (_folder() / f"{module}.ended").touch()


def wait_for(name: str, module: str, timeout: float = 1800) -> Any:
    """The value `module` published under `name`, once it is there; an error if `module`
    ended without it or the timeout passed."""
    target, ended = _folder() / f"{name}.json", _folder() / f"{module}.ended"
    deadline = time.monotonic() + timeout
    while not target.exists():
        if ended.exists() and not target.exists():
            raise AssertionError(f"{module} ended without publishing {name}: see its failures")
        if time.monotonic() > deadline:
            raise AssertionError(f"{module} did not publish {name} within {timeout:.0f} s")
        time.sleep(2)
    return json.loads(target.read_text(encoding="utf-8"))
