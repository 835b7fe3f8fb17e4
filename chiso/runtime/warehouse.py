"""The warehouse server: databases, least-privilege roles and the control plane, idempotently.

Roles (embedded server; with an external server, CHISO_WAREHOUSE_URL, the operator's URL is
used for every part):

- ``chiso_loader``      owns ``raw``: lands source data, nothing else.
- ``chiso_transformer`` reads ``raw``; owns staging, intermediate, snapshots, audit and marts
                        (dbt and publication) and uses the control plane's tables in ``ops``.
- ``chiso_bi_reader``   reads ``marts`` only: what BI tools and the report use.
- ``chiso_airflow``     owns the Airflow metadata database.
- ``chiso_superset``    owns Superset's metadata database (made by `chiso bi up`).

Bootstrap creates the server (embedded), the roles and databases, then applies the
control-plane migrations of ``chiso/migrations/`` (chiso/runtime/migrations.py), which define
every schema, grant and table of chiso's own. Safe to run any number of times, also by several
processes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from chiso.core.config import Settings
from chiso.runtime import migrations
from chiso.runtime.embedded_postgres import EmbeddedPostgres
from chiso.runtime.secrets import role_passwords

ROLES = ("loader", "transformer", "bi_reader", "airflow", "superset")
# roles are created one bootstrap at a time: concurrent ALTER ROLE fails in PostgreSQL
ROLES_LOCK = "chiso.roles"


def role_name(role: str) -> str:
    return f"chiso_{role}"


@dataclass(frozen=True)
class Urls:
    """Connection URLs per role, as plain libpq URLs (psycopg, psql, BI tools)."""

    admin: str
    loader: str
    transformer: str
    bi_reader: str
    airflow_metadata: str
    bi_metadata: str

    def for_role(self, role: str) -> str:
        return getattr(self, role)


def _with_db(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def urls(settings: Settings) -> Urls:
    if settings.external_url:
        ext = settings.external_url
        return Urls(
            ext, ext, ext, ext, _with_db(ext, settings.airflow_db), _with_db(ext, settings.bi_db)
        )
    pg = EmbeddedPostgres(settings)
    pw = role_passwords(settings, ROLES)
    base = f"127.0.0.1:{pg.port}"

    def u(role: str, db: str = settings.warehouse_db) -> str:
        return f"postgresql://{role_name(role)}:{quote(pw[role])}@{base}/{db}"

    return Urls(
        admin=pg.superuser_url(settings.warehouse_db),
        loader=u("loader"),
        transformer=u("transformer"),
        bi_reader=u("bi_reader"),
        airflow_metadata=u("airflow", settings.airflow_db),
        bi_metadata=u("superset", settings.bi_db),
    )


def _ensure_database(conn: psycopg.Connection, name: str, owner: str | None) -> None:
    exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    if exists:
        return
    stmt = sql.SQL("create database {} encoding 'UTF8' template template0").format(
        sql.Identifier(name)
    )
    if owner:
        stmt = stmt + sql.SQL(" owner {}").format(sql.Identifier(owner))
    conn.execute(stmt)


def _ensure_role(conn: psycopg.Connection, name: str, password: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    verb = "alter" if exists else "create"
    conn.execute(
        sql.SQL(verb + " role {} with login password {}").format(
            sql.Identifier(name), sql.Literal(password)
        )
    )


def migration_variables(settings: Settings, url: str) -> dict[str, str]:
    """The migrations' psql variables: the database and the role of each part."""
    if settings.external_url:
        user = unquote(urlsplit(url).username or "") or _current_user(url)
        return {"database": urlsplit(url).path.lstrip("/"), **dict.fromkeys(
            ("loader", "transformer", "bi_reader"), user
        )}  # fmt: skip
    return {
        "database": settings.warehouse_db,
        **{role: role_name(role) for role in ("loader", "transformer", "bi_reader")},
    }


def _current_user(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("select current_user").fetchone()[0]


def bootstrap(settings: Settings, *, migrate: bool = True) -> Urls:
    """Create or update the server, roles, databases and control plane; idempotent. Without
    `migrate`, the warehouse database is left as it is (a restore fills it, then migrates)."""
    if settings.external_url:
        url = settings.external_url
        if migrate:
            migrations.apply(url, migration_variables(settings, url))
        return urls(settings)

    pg = EmbeddedPostgres(settings)
    pg.start()
    pw = role_passwords(settings, ROLES)
    with psycopg.connect(pg.superuser_url("postgres"), autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (ROLES_LOCK,))
        try:
            for role in ROLES:
                _ensure_role(conn, role_name(role), pw[role])
            _ensure_database(conn, settings.warehouse_db, None)
            _ensure_database(conn, settings.airflow_db, role_name("airflow"))
            _close_to_public(conn)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (ROLES_LOCK,))
    admin = pg.superuser_url(settings.warehouse_db)
    if migrate:
        migrations.apply(admin, migration_variables(settings, admin))
    return urls(settings)


def ensure_owned_database(settings: Settings, name: str, role: str) -> None:
    """A database of the embedded server owned by one of ROLES (Superset's metadata, made
    when first needed), closed to PUBLIC like every other (`_close_to_public`)."""
    pg = EmbeddedPostgres(settings)
    with psycopg.connect(pg.superuser_url("postgres"), autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (ROLES_LOCK,))
        try:
            _ensure_database(conn, name, role_name(role))
            _close_to_public(conn)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (ROLES_LOCK,))


def _close_to_public(conn: psycopg.Connection) -> None:
    """PUBLIC (every role, present and future) may neither connect to nor make temporary
    tables in any database of the embedded cluster: PostgreSQL grants both by default, so a
    role made for one purpose could otherwise open the Airflow metadata or `postgres`. Who
    may connect to the warehouse is granted by its migrations (after_migrate__database_
    grants.sql); a database's owner keeps its rights (Airflow's)."""
    names = conn.execute(
        "select datname from pg_database where datallowconn and datname <> 'template0'"
        " and (datacl is null or exists (select 1 from aclexplode(datacl) a"
        " where a.grantee = 0 and a.privilege_type in ('CONNECT', 'TEMPORARY')))"
    ).fetchall()
    for (name,) in names:
        conn.execute(
            sql.SQL("revoke connect, temporary on database {} from public").format(
                sql.Identifier(name)
            )
        )


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """The same URL for SQLAlchemy (`postgresql+psycopg://…`)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+{driver}://{rest}" if scheme in ("postgresql", "postgres") else url
