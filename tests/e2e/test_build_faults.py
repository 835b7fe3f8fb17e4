"""Faults around a dbt build, on a PostgreSQL server of the module's own (the run's shared
server cannot crash under the other workers). Each ends "nothing lost, nothing doubled":
staging holds each record raw holds, once.

- The server crashes and restarts (an immediate stop, then recovery) while a monthly build
  is in the middle of its models: the build fails saying so and leaves its attempt recorded,
  and the server comes back on its port.
- A load lands while the retry runs: the load is not held up by the build, and the build,
  finding raw's ledger changed under it, builds again, so what it records as built includes
  the load (the next build of the month has nothing to do); staging holds each delivered
  record once. (That incremental builds equal a full refresh is test_monthly_slice's.)

One scenario, not two tests: each step starts from what the one before left, as it would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from chiso.core.config import Settings
from chiso.ingest.files import ingest_inbox
from chiso.pipeline import ensure_reference
from chiso.runtime.embedded_postgres import EmbeddedPostgres
from chiso.runtime.warehouse import Urls, bootstrap
from chiso.transform.build_inputs import ATTEMPT, inputs_digest, up_to_date
from chiso.transform.dbt import DbtError, DbtResult, build
from chiso.transform.reference_state import current_fingerprint, read_state
from tests import warehouses
from tests.alert_receivers import wait_for
from tests.reliability import Snapshot, snapshot_of
from tests.warehouses import build_lock

# at nice 10 beside the template's build and the Airflow modules, its setup's first full build
# can take nine minutes of the run's first ten (measured: 540 s of setup, 359 s of test)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(1800),
    pytest.mark.usefixtures("second_in_line"),
]

JANUARY, FEBRUARY = date(2020, 1, 1), date(2020, 2, 1)
SOURCES = ("one_stop", "documents", "portal")


@pytest.fixture(scope="module")
def own() -> Iterator[tuple[Settings, Urls]]:
    """A home with a server of its own, January's deliveries loaded and built."""
    home = warehouses.root() / "homes" / "build-faults"
    settings = Settings(
        home=home, external_url=None, pg_port_hint=warehouses.free_port(), airflow_port=0,
        simulator_port=0, server_home=home, data_docs=False,
    )  # fmt: skip
    urls = bootstrap(settings)
    try:
        ensure_reference(settings)  # as every close does first
        _deliver(settings, urls, JANUARY)
        build(settings, JANUARY)
        yield settings, urls
    finally:
        EmbeddedPostgres(settings).stop()


def _deliver(settings: Settings, urls: Urls, month: date) -> None:
    """The simulator's files of `month` into the inbox, and loaded."""
    from chiso_sim.config import SimulatorConfig
    from chiso_sim.inbox import write_inbox

    inbox = settings.home / "inbox"
    # one province: what a build does does not depend on how many there are
    write_inbox(SimulatorConfig(months=2, provinces=("30",)), month, inbox)
    for source in SOURCES:
        results = ingest_inbox(urls.loader, inbox, source)
        assert {r.status for r in results} <= {"loaded", "duplicate"}, results


def _in_background(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except Exception as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _dbt_in_a_model(admin: str, database: str) -> bool:
    """Whether dbt runs a model's statement now (not the freshness check before them)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        busy = conn.execute(
            "select count(*) from pg_stat_activity where datname = %s"
            " and application_name = 'dbt' and state = 'active'"
            " and (query ilike '%%insert into%%' or query ilike '%%create%%table%%')",
            (database,),
        ).fetchone()
    return bool(busy and busy[0])


def _staged_equals_raw(url: str) -> None:
    """Each dossier raw holds is staged once, and nothing else is (keys and a checksum)."""
    with psycopg.connect(url) as conn:
        raw = conn.execute(
            "select distinct btrim(ma_ho_so) from raw.one_stop__dossiers order by 1"
        ).fetchall()
        staged = conn.execute(
            "select dossier_id from staging.stg_one_stop__dossiers order by 1"
        ).fetchall()
    assert raw and snapshot_of([r[0] for r in staged]) == snapshot_of([r[0] for r in raw])


def _facts(url: str) -> Snapshot:
    """The fact table's rows and a checksum of them (build columns left out)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select to_jsonb(f) - array(select column_name::text from"
            " information_schema.columns where table_schema = 'audit'"
            " and table_name = 'fct_indicator_values' and column_name like '\\_%%')"
            " from audit.fct_indicator_values f"
        ).fetchall()
    return snapshot_of(sorted(str(r[0]) for r in rows))


def test_a_crash_during_a_build_then_a_load_during_its_retry_lose_nothing(own, reliability) -> None:
    """February's build is under way when the server crashes: it fails, its attempt stays
    recorded. Its retry runs while a delivery lands: the load is not held up, and the build
    runs again so every model reads it; staging then holds each delivered record once."""
    settings, urls = own
    server = EmbeddedPostgres(settings)
    admin = server.superuser_url("postgres")
    _deliver(settings, urls, FEBRUARY)
    crash = reliability.trial(
        "Builds",
        "the server crashes in the middle of February's build; the build is run again, and a"
        " delivery lands during the retry",
        _facts(urls.admin),  # January's, as built (what the crash leaves depends on its moment)
    )
    thread, out = _in_background(lambda: build(settings, FEBRUARY))
    assert wait_for(lambda: _dbt_in_a_model(admin, settings.warehouse_db), timeout=240)
    server.stop(mode="immediate")  # a crash: no checkpoint, recovery at the next start
    server.start()
    assert server.superuser_url("postgres") == admin  # the same port: its clients' URLs hold
    thread.join(300)
    assert isinstance(out.get("error"), DbtError), out
    with psycopg.connect(urls.transformer) as conn:
        assert read_state(conn, ATTEMPT) is not None  # the next build runs, whatever it finds
    thread, out = _in_background(lambda: build(settings, FEBRUARY))
    assert wait_for(lambda: _dbt_in_a_model(admin, settings.warehouse_db), timeout=240)
    # one agency's February documents sent again (with a blank line at the end: new bytes,
    # the same records), replacing its part of the month while the build reads it
    archived = settings.home / "inbox" / "archive" / "documents" / f"{FEBRUARY:%Y-%m}"
    sent = sorted(archived.glob("*.csv"))[0]
    resent = settings.home / "inbox" / "documents" / sent.name
    resent.write_bytes(sent.read_bytes() + b"\r\n")
    [landed] = ingest_inbox(urls.loader, settings.home / "inbox", "documents")
    assert landed.status == "loaded", landed
    assert build_lock(urls.admin)[0] == 1, "the load waited for the build"
    thread.join(600)
    result: DbtResult | None = out.get("result")
    assert result is not None, out
    assert result.attempts == 2 and not result.skipped
    with psycopg.connect(urls.transformer) as conn:
        assert read_state(conn, ATTEMPT) is None
        digest = inputs_digest(conn, current_fingerprint(conn))
        assert up_to_date(conn, FEBRUARY, digest) == result.invocation_id  # nothing left to do

    _staged_equals_raw(urls.transformer)
    crash.done(
        "the build fails naming the lost connection, its attempt recorded, the server back on"
        " its port; in the retry the load is not held up, and the build runs again so every"
        " model reads the delivery; staging holds each delivered dossier once",
        _facts(urls.admin),
    )
