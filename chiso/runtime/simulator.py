"""The local source simulator as a background process, and where each source's API is.

The simulator is the test harness (the `chiso-sim` package in sim/), not part of the product:
chiso starts it as a separate process by name and never imports it. A province points each
source at its vendor's system instead (CHISO_<SOURCE>_API_URL / _TOKEN here, Airflow
connections ``chiso_<source>_api`` in the DAG).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import httpx

from chiso.core.config import REPO_ROOT, Settings
from chiso.core.environment import inherited
from chiso.runtime.processes import stop_groups
from chiso.runtime.secrets import simulator_token
from chiso.sources.systems import ApiSettings

HARNESS = "chiso_sim"
# the environment variable the simulator reads its bearer token from (chiso_sim.server)
TOKEN_ENV = "CHISO_SIMULATOR_TOKEN"


class SimulatorError(RuntimeError):
    """The simulator is not installed, or did not start."""


def _pidfile(settings: Settings) -> Path:
    return settings.run_dir / "simulator.pid"


def url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.simulator_port}"


def start(settings: Settings, timeout: float = 60, options: Sequence[str] = ()) -> str:
    """Start the source simulator in the background (replacing a stale one); returns its URL.

    `options` are the simulator's own flags (`chiso-sim serve --help`: months, provinces,
    volume, faults), e.g. for the benchmarks. Its records always leave out the keys of null
    values, as many vendors' APIs do (`--omit-null-keys`): the harness is never kinder than
    the systems it stands for.
    """
    if importlib.util.find_spec(HARNESS) is None:
        raise SimulatorError(
            "the source simulator is the development harness (package chiso-sim, sim/), not"
            " installed here: run `make setup` in a clone of the repository"
        )
    stop(settings)
    settings.ensure_dirs()
    log = open(settings.log_dir / "simulator.log", "ab")  # noqa: SIM115 (child owns it)
    cmd = [sys.executable, "-m", HARNESS, "serve", "--port", str(settings.simulator_port)]
    cmd.append("--omit-null-keys")
    proc = subprocess.Popen(
        [*cmd, *options],
        env={**inherited(), TOKEN_ENV: simulator_token(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO_ROOT,
    )
    _pidfile(settings).write_text(str(proc.pid))
    base = url(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SimulatorError(f"simulator exited; see {settings.log_dir / 'simulator.log'}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return base
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SimulatorError(f"simulator did not answer on {base}")


def stop(settings: Settings) -> None:
    """Stop the simulator this home started, if it runs."""
    pf = _pidfile(settings)
    if not pf.exists():
        return
    stop_groups([int(pf.read_text())], timeout=5)
    pf.unlink(missing_ok=True)


def api_settings(settings: Settings, source: str = "one_stop") -> ApiSettings:
    """A source system's API: CHISO_<SOURCE>_API_URL / _TOKEN, else the local simulator."""
    prefix = f"CHISO_{source.upper()}_API"
    return ApiSettings(
        base_url=os.environ.get(f"{prefix}_URL") or url(settings),
        token=os.environ.get(f"{prefix}_TOKEN") or simulator_token(settings),
    )


def set_clock(settings: Settings, instant: datetime) -> None:
    """Move the local simulator's clock (source local time): from then on it serves every
    system as it stood at `instant`. The demo and the tests close each month with the clock
    at its close instant, as a province's systems would stand when the close runs; a vendor's
    system has no such knob, and the product never calls this on one."""
    response = httpx.put(
        f"{url(settings)}/api/v1/clock",
        json={"as_of": instant.strftime("%Y-%m-%dT%H:%M:%S")},
        headers={"Authorization": f"Bearer {simulator_token(settings)}"},
        timeout=30,
    )
    if response.status_code != 200:
        raise SimulatorError(f"simulator refused the clock {instant}: HTTP {response.status_code}")


# The province whose summary reports print a resolved total 2 off its parts, as Hòa Bình's
# 2019 report did (seed 002: 8,332 + 3,899 + 109 printed as 12,338): the gate must warn.
MISPRINTING_PROVINCES = ("17",)


def deliver_summary_reports(settings: Settings, month: date) -> list[Path]:
    """Drop each province's summary report of `month` ("TỔNG HỢP TÌNH HÌNH GIẢI QUYẾT HỒ
    SƠ") into the one-stop inbox, as the province's service centre sends it for the close:
    the simulator's counts as its clock stands, paper-only dossiers included, Hòa Bình's with
    its misprinted total. The close loads them with the inbox (``tong-hop_<province>_<month>``:
    the file name carries the unit) and reconciles them with the dossiers."""
    period = f"{month:%Y-%m}"
    listed = _get(settings, "/api/v1/provinces", {"month": period})
    folder = settings.inbox_dir / "one_stop"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for province in listed.json():
        code = province["code"]
        params = {"province": code}
        if code in MISPRINTING_PROVINCES:
            params["mismatch"] = "total"
        response = _get(settings, f"/api/v1/exports/one_stop_aggregate/{period}.xlsx", params)
        path = folder / f"tong-hop_{code}_{period}.xlsx"
        # written whole under a hidden name, then moved in, dated ten minutes ago (sent before
        # the close): a file the inbox sees complete, where a fresh one would wait out
        # CHISO_INBOX_SETTLE_SECONDS
        partial = folder / f".{path.name}.part"
        partial.write_bytes(response.content)
        delivered = time.time() - 600
        os.utime(partial, (delivered, delivered))
        partial.replace(path)
        written.append(path)
    return written


def _get(settings: Settings, path: str, params: dict[str, str]) -> httpx.Response:
    """GET from the simulator, through the transient faults it may be told to inject."""
    auth = {"Authorization": f"Bearer {simulator_token(settings)}"}
    for attempt in range(5):
        response = httpx.get(f"{url(settings)}{path}", params=params, headers=auth, timeout=120)
        if response.status_code == 200:
            return response
        if response.status_code not in (429, 500, 502, 503, 504):
            break
        time.sleep(0.2 * 2**attempt)
    raise SimulatorError(f"simulator answered {path} with HTTP {response.status_code}")


def stand_at_close(settings: Settings, month: date, instant: datetime) -> None:
    """Before `month`'s close: the simulator's clock at `instant` (its close instant), and the
    summary reports the provinces send for it in the inbox."""
    set_clock(settings, instant)
    deliver_summary_reports(settings, month)
