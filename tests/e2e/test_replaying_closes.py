"""Replaying closes changes nothing (a copy of tests/warehouses.py's template, on a worker of
its own: three closes take a few minutes).

A close is cleared and run again, or the three are replayed after an outage: with the sources
as they stand now, raw, every published revision and the mart must stay exactly as they were.
"""

from __future__ import annotations

import psycopg
import pytest

from chiso import pipeline
from chiso.runtime import simulator
from tests.warehouses import TEMPLATE_CLOSES, TEMPLATE_MONTHS, built_nodes, read_mart

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MONTHS = list(TEMPLATE_MONTHS)


@pytest.fixture(scope="module")
def published(built_env):
    s = built_env.settings
    simulator.start(s)
    return built_env, simulator.api_settings(s), None


def test_replaying_the_closes_is_idempotent(published):
    """The three closes again, with the sources as they stand now (the template's last close
    instant: a replay does not turn the sources' clock back): raw, every published revision
    and the mart stay exactly as they were. The monthly builds skip the reference nodes and
    the unit tests (the project is the one they last ran with) but still check the month's
    foreign keys into them."""
    env, api, _ = published
    s = env.settings
    simulator.set_clock(s, TEMPLATE_CLOSES[-1])
    query = (
        "select (select count(*) from raw.one_stop__dossiers),"
        " (select count(*) from raw.documents__movements),"
        " (select array_agg((period_month, revision) order by period_month, revision)::text"
        " from ops.publications)"
    )
    with psycopg.connect(env.urls.admin) as conn:
        state_before = conn.execute(query).fetchone()
    before = read_mart(env.urls.bi_reader)
    for month in MONTHS:
        pipeline.run_month(s, month, api)
    built = built_nodes(s)
    with psycopg.connect(env.urls.admin) as conn:
        state_after = conn.execute(query).fetchone()
    assert state_after == state_before  # raw as it was; no new revision of any month
    assert read_mart(env.urls.bi_reader) == before  # published_at included
    assert not [n for n in built if n.startswith("seed.")]
    assert "model.chiso.fct_indicator_values" in built
    assert "model.chiso.dim_period" not in built
    assert not [n for n in built if n.startswith("unit_test.")]
    # the foreign keys of the month's rows into a skipped dimension are still checked
    fk_test = "test.chiso.relationships_fct_indicator_values_period_id"
    assert [n for n in built if n.startswith(fk_test)]
