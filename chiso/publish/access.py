"""Scoped BI logins: `chiso access grant NAME --province CODE | --agency CODE`, `revoke`, `list`.

A scoped login reads the published marts like the BI reader, and sees only the rows of its
province or agency: row-level security on every table of `marts` holding such rows
(chiso/publish/history.py, `secure`), views that are security_invoker, and the scope in
`ops.access_scopes` (chiso/migrations/V013__bi_access_scopes.sql). A province's login sees
its agencies and its rollups; an agency's login sees its own rows and no rollup (a province's
or tier's totals are other agencies' numbers too).

The logins share the group role SCOPED_GROUP, which holds their read rights (the marts, the
scope function); each login holds only CONNECT and the membership. Roles belong to the
server, so names are the server's: one login per name, whichever database it reads.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from chiso.publish.history import secure
from chiso.publish.marts import tuples

SCOPED_GROUP = "chiso_bi_scoped"
_NAME = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
# serialises the creation of the group role across the server's databases
_GROUP_LOCK = "chiso.access.group"


class AccessError(ValueError):
    """A grant or revoke that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Scope:
    role_name: str
    province_code: str | None
    agency_code: str | None

    def describe(self) -> str:
        if self.province_code is not None:
            return f"province {self.province_code}"
        return f"agency {self.agency_code}"


def grant(
    admin_url: str,
    transformer: str,
    name: str,
    *,
    province: str | None = None,
    agency: str | None = None,
) -> str:
    """Create the login `name` seeing only `province`'s or `agency`'s rows; returns its
    password (generated, shown once: the caller keeps it where only its operator reads it)."""
    if not _NAME.match(name):
        raise AccessError(
            f"{name!r}: a login name is 3–63 lower-case letters, digits and _, starting with a"
            " letter"
        )
    if (province is None) == (agency is None):
        raise AccessError("give one scope: --province CODE or --agency CODE")
    password = secrets.token_urlsafe(24)
    with psycopg.connect(admin_url) as conn:
        _check_scope(conn, province, agency)
        if _role_exists(conn, name):
            raise AccessError(
                f"a role {name} exists already on this server: revoke it first, or choose"
                " another name"
            )
        _ensure_group(conn, transformer)
        login = sql.Identifier(name)
        # inherit: the login reads with the group's rights directly (a BI tool sets no role)
        conn.execute(
            sql.SQL("create role {} login inherit password {}").format(login, sql.Literal(password))
        )
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(SCOPED_GROUP), login))
        database = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), login)
        )
        conn.execute(
            "insert into ops.access_scopes (role_name, province_code, agency_code)"
            " values (%s, %s, %s)",
            (name, province, agency),
        )
        for table in _published_tables(conn):
            secure(conn, table)
    return password


def revoke(admin_url: str, name: str) -> bool:
    """Drop the scoped login `name` (False: there is none of that name)."""
    with psycopg.connect(admin_url) as conn:
        found = conn.execute(
            "delete from ops.access_scopes where role_name = %s returning role_name", (name,)
        ).fetchone()
        if found is None:
            return False
        if _role_exists(conn, name):
            login = sql.Identifier(name)
            # its privileges here, the database's CONNECT included; then the login itself
            conn.execute(sql.SQL("drop owned by {}").format(login))
            conn.execute(sql.SQL("drop role {}").format(login))
    return True


def scopes(url: str) -> list[Scope]:
    with psycopg.connect(url) as conn:
        rows = (
            tuples(conn)
            .execute(
                "select role_name, province_code, agency_code from ops.access_scopes order by 1"
            )
            .fetchall()
        )
    return [Scope(*row) for row in rows]


def _check_scope(conn: psycopg.Connection, province: str | None, agency: str | None) -> None:
    if conn.execute("select to_regclass('marts.dim_agency')").fetchone() == (None,):
        raise AccessError("nothing is published yet: publish a month, then grant access to it")
    column, code = ("province_code", province) if province is not None else ("agency_code", agency)
    found = conn.execute(
        sql.SQL("select exists (select 1 from marts.dim_agency where {} = %s)").format(
            sql.Identifier(column)
        ),
        (code,),
    ).fetchone()
    if not (found and found[0]):
        what = "province" if province is not None else "agency"
        raise AccessError(f"no {what} {code} among the published agencies (marts.dim_agency)")


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select exists (select 1 from pg_roles where rolname = %s)", (name,))
    return bool(row.fetchone()[0])  # type: ignore[index]


def _ensure_group(conn: psycopg.Connection, transformer: str) -> None:
    """The group's rights in this database (its creation once per server)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_GROUP_LOCK,))
    group = sql.Identifier(SCOPED_GROUP)
    if not _role_exists(conn, SCOPED_GROUP):
        conn.execute(sql.SQL("create role {} nologin").format(group))
    conn.execute(sql.SQL("grant usage on schema marts to {}").format(group))
    conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(group))
    conn.execute(sql.SQL("grant execute on function marts.access_scope() to {}").format(group))
    # revision tables publication creates later
    conn.execute(
        sql.SQL(
            "alter default privileges for role {} in schema marts grant select on tables to {}"
        ).format(sql.Identifier(transformer), group)
    )


def _published_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relkind in ('r', 'p') order by 1"
    ).fetchall()
    return [r[0] for r in rows]
