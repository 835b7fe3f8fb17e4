"""Databases, schemas and least-privilege roles of the warehouse, created idempotently.

Roles (embedded mode; with an external server the operator's URL is used for every part):
- ``chiso_loader``      owns ``raw``: lands source data, nothing else.
- ``chiso_transformer`` reads ``raw``; owns staging, intermediate, audit, marts and ops (dbt,
                        validation and publication).
- ``chiso_bi_reader``   reads ``marts`` only: what BI tools and the report use.
- ``chiso_airflow``     owns the Airflow metadata database.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from chiso.config import AIRFLOW_DB, SCHEMAS, WAREHOUSE_DB, Settings
from chiso.db.embedded import EmbeddedPostgres

ROLES = ("loader", "transformer", "bi_reader", "airflow")
TRANSFORMER_SCHEMAS = ("staging", "intermediate", "snapshots", "audit", "marts", "ops")


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

    def for_role(self, role: str) -> str:
        return getattr(self, role)


def _with_db(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def _passwords(settings: Settings) -> dict[str, str]:
    """Role passwords of the embedded server, generated once and kept outside the repo."""
    path = settings.secrets_dir / "roles.json"
    settings.ensure_dirs()
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for role in ROLES:
        if role not in data:
            data[role] = secrets.token_urlsafe(18)
            changed = True
    if changed:
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
    return data


def urls(settings: Settings) -> Urls:
    if settings.external_url:
        ext = settings.external_url
        airflow = _with_db(ext, AIRFLOW_DB)
        return Urls(ext, ext, ext, ext, airflow)
    pg = EmbeddedPostgres(settings)
    pw = _passwords(settings)
    base = f"127.0.0.1:{pg.port}"

    def u(role: str, db: str = WAREHOUSE_DB) -> str:
        return f"postgresql://{role_name(role)}:{quote(pw[role])}@{base}/{db}"

    return Urls(
        admin=pg.superuser_url(WAREHOUSE_DB),
        loader=u("loader"),
        transformer=u("transformer"),
        bi_reader=u("bi_reader"),
        airflow_metadata=u("airflow", AIRFLOW_DB),
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


def _grant_warehouse(conn: psycopg.Connection) -> None:
    loader, transformer, reader = (role_name(r) for r in ("loader", "transformer", "bi_reader"))
    q = sql.Identifier
    conn.execute(sql.SQL("revoke all on database {} from public").format(q(WAREHOUSE_DB)))
    for role in (loader, transformer, reader):
        conn.execute(sql.SQL("grant connect on database {} to {}").format(q(WAREHOUSE_DB), q(role)))
    # dbt unit tests and incremental models stage rows in temporary tables.
    conn.execute(
        sql.SQL("grant temporary on database {} to {}").format(q(WAREHOUSE_DB), q(transformer))
    )
    conn.execute(sql.SQL("revoke create on schema public from public"))
    conn.execute(sql.SQL("create schema if not exists raw authorization {}").format(q(loader)))
    for schema in TRANSFORMER_SCHEMAS:
        conn.execute(
            sql.SQL("create schema if not exists {} authorization {}").format(
                q(schema), q(transformer)
            )
        )
    # transformer reads what the loader lands, including tables created later.
    conn.execute(sql.SQL("grant usage on schema raw to {}").format(q(transformer)))
    conn.execute(sql.SQL("grant select on all tables in schema raw to {}").format(q(transformer)))
    conn.execute(
        sql.SQL(
            "alter default privileges for role {} in schema raw grant select on tables to {}"
        ).format(q(loader), q(transformer))
    )
    # BI reads the published marts and nothing else.
    conn.execute(sql.SQL("grant usage on schema marts to {}").format(q(reader)))
    conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(q(reader)))
    conn.execute(
        sql.SQL(
            "alter default privileges for role {} in schema marts grant select on tables to {}"
        ).format(q(transformer), q(reader))
    )


def bootstrap(settings: Settings) -> Urls:
    """Create or update databases, roles and schemas; safe to run any number of times."""
    if settings.external_url:
        with psycopg.connect(settings.external_url, autocommit=True) as conn:
            for schema in SCHEMAS:
                conn.execute(
                    sql.SQL("create schema if not exists {}").format(sql.Identifier(schema))
                )
        return urls(settings)

    pg = EmbeddedPostgres(settings)
    pg.start()
    pw = _passwords(settings)
    with psycopg.connect(pg.superuser_url("postgres"), autocommit=True) as conn:
        for role in ROLES:
            _ensure_role(conn, role_name(role), pw[role])
        _ensure_database(conn, WAREHOUSE_DB, None)
        _ensure_database(conn, AIRFLOW_DB, role_name("airflow"))
    with psycopg.connect(pg.superuser_url(WAREHOUSE_DB), autocommit=True) as conn:
        _grant_warehouse(conn)
    return urls(settings)


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """The same URL for SQLAlchemy (`postgresql+psycopg://…`)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+{driver}://{rest}" if scheme in ("postgresql", "postgres") else url
