"""BI access scoped by row-level security (chiso/publish/access.py), as each role sees it.

On a copy of the built warehouse, `chiso access grant` makes a province's login and an
agency's login. Connected as each, every relation of `marts` is read and compared with what
the BI reader sees: the scoped logins see exactly the rows of their scope (nothing more,
nothing of their own hidden), in the tables, the views over them and the revision history;
they read nothing outside `marts`, cannot switch role or lift the policies; a revoked login
cannot connect.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from chiso.cli import main
from chiso.publish import access
from chiso.publish.marts import PUBLIC_TABLES
from chiso.runtime.warehouse import role_name

pytestmark = pytest.mark.e2e

SUFFIX = os.getpid()


def _login_url(bi_reader: str, name: str, password: str) -> str:
    base = urlsplit(bi_reader)
    return urlunsplit(base._replace(netloc=f"{name}:{quote(password)}@{base.hostname}:{base.port}"))


@pytest.fixture(scope="module")
def world(built_env):
    admin = built_env.urls.admin
    with psycopg.connect(admin) as conn:
        province, agency = conn.execute(
            "select province_code, min(agency_code) from marts.dim_agency"
            " where agency_code is not null group by 1 having count(distinct agency_code) > 1"
            " order by count(distinct agency_code) desc, 1 limit 1"
        ).fetchone()
    logins = {}
    for kind, scope in (("province", {"province": province}), ("agency", {"agency": agency})):
        name = f"bi_{kind}_{SUFFIX}"
        password = access.grant(admin, role_name("transformer"), name, **scope)
        logins[kind] = _login_url(built_env.urls.bi_reader, name, password)
    try:
        yield built_env, province, agency, logins
    finally:
        for kind in logins:
            access.revoke(admin, f"bi_{kind}_{SUFFIX}")


def _relations(url: str) -> dict[str, set[str]]:
    """Every table and view of marts, with its columns."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select c.table_name, c.column_name from information_schema.columns c"
            " where c.table_schema = 'marts'"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def _scope_predicate(columns: set[str], kind: str) -> str | None:
    """Which rows a login of `kind` should see, in SQL over the relation's columns (%(p)s the
    province, %(a)s the agency); None: the relation holds no province's or agency's rows."""
    if "old_row" in columns:  # the revision changes: rows of the marts as JSON
        row = "coalesce(new_row, old_row)"
        if kind == "province":
            return f"{row} ->> 'province_code' = %(p)s or {row} ->> 'reporting_unit_code' = %(p)s"
        return f"{row} ->> 'agency_code' = %(a)s or {row} ->> 'reporting_unit_code' = %(a)s"
    if "reporting_unit_code" in columns:
        if kind == "province":
            return (
                "reporting_unit_code = %(p)s or agency_code in (select agency_code"
                " from marts.dim_agency where province_code = %(p)s)"
            )
        return "reporting_unit_code = %(a)s or agency_code = %(a)s"
    if "province_code" in columns and kind == "province":
        return "province_code = %(p)s"
    if "agency_code" in columns and kind == "agency":
        return "agency_code = %(a)s"
    if "agency_code" in columns:  # a fact without the province: its agencies' rows
        return (
            "agency_code in (select agency_code from marts.dim_agency where province_code = %(p)s)"
        )
    if "province_code" in columns:  # a rollup: no agency's own rows
        return "false"
    return None


def _count(url: str, table: str, where: str = "true", params: dict | None = None) -> int:
    with psycopg.connect(url) as conn:
        query = sql.SQL("select count(*) from {} where {}").format(
            sql.Identifier("marts", table), sql.SQL(where)
        )
        return conn.execute(query, params or {}).fetchone()[0]


# what only unscoped readers see: the gate's warnings, whose samples name any agency
UNSCOPED_ONLY = ("kpi_publication_warnings",)


def test_each_login_sees_exactly_its_rows_in_every_relation_of_marts(world) -> None:
    env, province, agency, logins = world
    bi = env.urls.bi_reader
    params = {"p": province, "a": agency}
    relations = _relations(env.urls.admin)
    expected = {"mart_kpi_monthly", "mart_kpi_monthly__revisions", "kpi_revision_changes",
                "mart_kpi_dashboard", "mart_kpi_dashboard__revisions",
                "mart_kpi_rollups", "dim_agency", "fct_annual_index_values",
                "fct_indicator_values"}  # fmt: skip
    assert expected <= relations.keys()
    scoped_somewhere = 0
    for table, columns in sorted(relations.items()):
        everything = _count(bi, table)
        for kind, url in logins.items():
            seen = _count(url, table)
            if table in UNSCOPED_ONLY:
                assert seen == 0 < everything, (table, kind)
                continue
            predicate = None if table in PUBLIC_TABLES else _scope_predicate(columns, kind)
            if predicate is None:
                assert seen == everything, (table, kind)
                continue
            mine = _count(bi, table, f"coalesce({predicate}, false)", params)
            assert seen == mine, (table, kind, seen, mine)
            assert _count(url, table, f"not coalesce({predicate}, false)", params) == 0
            if everything > mine:
                scoped_somewhere += 1
    # the copy holds other provinces' and agencies' rows, so the scopes hid something real
    assert scoped_somewhere >= 8
    assert (
        _count(logins["province"], "mart_kpi_monthly")
        > _count(logins["agency"], "mart_kpi_monthly")
        > 0
    )


def test_scoped_logins_read_nothing_outside_marts_and_cannot_lift_their_scope(world) -> None:
    env, province, agency, logins = world
    for kind, url in logins.items():
        with psycopg.connect(url, autocommit=True) as conn:
            scope = conn.execute("select * from marts.access_scope()").fetchone()
            assert scope == (
                (False, province, None) if kind == "province" else (False, None, agency)
            )
            for table in ("raw.one_stop__dossiers", "staging.stg_one_stop__dossiers",
                          "audit.fct_indicator_values", "ops.access_scopes",
                          "ops.publication_changes"):  # fmt: skip
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"select 1 from {table} limit 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"set role {role_name('bi_reader')}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    "alter table marts.mart_kpi_monthly__revisions no force row level security"
                )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("set row_security = off; select count(*) from marts.dim_agency")
    with psycopg.connect(env.urls.bi_reader) as conn:  # the BI reader keeps its whole view
        assert conn.execute("select * from marts.access_scope()").fetchone() == (True, None, None)


def test_grant_and_revoke_through_the_cli(world, capsys) -> None:
    env, province, _, _ = world
    name = f"bi_cli_{SUFFIX}"
    assert main(["access", "grant", name, "--province", province]) == 0
    kept = env.settings.secrets_dir / "access" / f"{name}.url"
    assert kept.stat().st_mode & 0o777 == 0o600
    url = kept.read_text().strip()
    assert "granted" in capsys.readouterr().out
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from marts.dim_agency").fetchone()[0] > 0
    assert main(["access", "list"]) == 0
    assert f"{name}" in capsys.readouterr().out
    # a second grant of the name, and a scope nobody publishes, are refused in one line
    assert main(["access", "grant", name, "--agency", "000.00.00.X99"]) == 2
    assert main(["access", "grant", f"{name}_x", "--agency", "000.00.00.X99"]) == 2
    assert "no agency 000.00.00.X99" in capsys.readouterr().err
    assert main(["access", "revoke", name]) == 0
    assert not kept.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    assert main(["access", "revoke", name]) == 1


def test_the_bi_guides_sample_queries_run_for_the_reader_and_a_scoped_login(world) -> None:
    """The queries docs/bi-guide.md offers for a BI tool run as written, as the BI reader and
    as the province's login, and find rows."""
    import re
    from pathlib import Path

    env, province, _, logins = world
    guide = (Path(__file__).parents[2] / "docs" / "bi-guide.md").read_text(encoding="utf-8")
    section = guide.split("Sample queries", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block is not None
    queries = [q.strip() for q in block.group(1).split(";") if q.strip()]
    assert len(queries) == 3
    for query in queries:
        for url in (env.urls.bi_reader, logins["province"]):
            mine = query.replace("province_code = '30'", f"province_code = '{province}'")
            with psycopg.connect(url) as conn:
                assert conn.execute(mine).fetchall(), query.splitlines()[0]
