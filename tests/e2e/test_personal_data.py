"""Personal data on an empty warehouse: the key that hashes it is the warehouse's own, and one
ID number gives one key whatever spelling it arrives in.

- A build with another key (changed, or lost and generated anew) stops before dbt runs,
  naming both keys' check values; rotating on purpose records the new one.
- ``raw.canonical_id`` (SQL, what staging hashes) equals ``canonical_id`` (Python, what an
  operator's lookup and the tests use) on the spellings deliveries carry and on generated
  ones.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chiso.core.pii import ENV_VAR, canonical_id, pii_key
from chiso.transform.dbt import build
from chiso.transform.key_check import (
    ITEM,
    PiiKeyMismatch,
    check_value,
    record_key,
    verify_key,
)

pytestmark = pytest.mark.e2e

MONTH = date(2020, 1, 1)


def _recorded(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select fingerprint from ops.dbt_build_state where item = %s", (ITEM,)
        ).fetchone()
    return row[0] if row else None


def test_a_build_with_another_key_stops_before_dbt_runs(chiso_env, monkeypatch):
    s, url = chiso_env.settings, chiso_env.urls.transformer
    monkeypatch.delenv(ENV_VAR, raising=False)
    home_key = pii_key(s)
    with psycopg.connect(url) as conn:
        record_key(conn, verify_key(conn, home_key))  # as the first build does
    assert _recorded(url) == check_value(home_key)

    # the operator's secret store points at another key
    monkeypatch.setenv(ENV_VAR, "mot-khoa-khac-hoan-toan")
    with pytest.raises(PiiKeyMismatch) as refused:
        build(s, MONTH)
    message = str(refused.value)
    assert check_value(home_key) in message and check_value(b"mot-khoa-khac-hoan-toan") in message
    assert "mot-khoa-khac" not in message  # the check value names a key, never shows it
    monkeypatch.delenv(ENV_VAR)

    # the key file was lost: a new one is generated, and refused
    (s.secrets_dir / "pii.key").unlink()
    with pytest.raises(PiiKeyMismatch, match="nothing was built"):
        build(s, MONTH)
    with psycopg.connect(url) as conn:
        built = conn.execute("select to_regclass('audit.fct_indicator_values')").fetchone()[0]
        assert built is None
        assert conn.execute("select count(*) from ops.dbt_builds").fetchone()[0] == 0

    # rotating on purpose (a full rebuild) records the new key once the build succeeded
    new_key = pii_key(s)
    with psycopg.connect(url) as conn:
        value = verify_key(conn, new_key, rotate=True)
        record_key(conn, value)
    assert _recorded(url) == check_value(new_key) != check_value(home_key)


SPELLINGS = [
    ("001099012345", "1099012345"),
    ("1099012345", "1099012345"),  # a spreadsheet's number: leading zeros gone
    ("  001 099 012 345 ", "1099012345"),  # typed in groups
    ("001.099.012.345", "1099012345"),
    ("００１０９９０１２３４５", "1099012345"),  # full-width digits
    ("001\u00a0099\u00a0012345", "1099012345"),  # no-break spaces from a web page
    ("0101234567-001", "101234567001"),  # a branch's tax number
    ("b1234567", "B1234567"),  # a passport
    ("000000", "0"),
    ("", ""),
]


def test_sql_and_python_canonical_ids_agree_on_the_spellings_deliveries_carry(chiso_env):
    with psycopg.connect(chiso_env.urls.transformer) as conn:
        for raw, expected in SPELLINGS:
            got = conn.execute("select raw.canonical_id(%s)", (raw,)).fetchone()[0]
            assert got == canonical_id(raw) == expected, raw
        assert conn.execute("select raw.canonical_id(null)").fetchone()[0] is None


ID_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789 .-ABCXYZabcxyz\u00a0\t０１２９")), max_size=20
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(ID_TEXT, min_size=1, max_size=20))
def test_sql_and_python_canonical_ids_agree_on_generated_spellings(chiso_env, values):
    with psycopg.connect(chiso_env.urls.transformer) as conn:
        got = conn.execute(
            "select array_agg(raw.canonical_id(v) order by n)"
            " from unnest(%s::text[]) with ordinality as t(v, n)",
            (values,),
        ).fetchone()[0]
    assert got == [canonical_id(v) for v in values]
