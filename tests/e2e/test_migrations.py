"""The control plane is the migrations folder: applied in order, recorded, never twice, and
the roles get the rights they use on it and no more."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from chiso.runtime import migrations
from chiso.runtime.embedded_postgres import EmbeddedPostgres
from chiso.runtime.warehouse import bootstrap, migration_variables

pytestmark = pytest.mark.e2e


def _recorded(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select version, checksum from ops.schema_migrations"))


def test_bootstrap_applies_every_file_once_and_records_it(chiso_env):
    found = migrations.discover()
    recorded = _recorded(chiso_env.urls.admin)
    assert recorded == {m.version: m.checksum for m in found if not m.always}
    assert migrations.apply(chiso_env.urls.admin, _variables(chiso_env)) == []
    assert bootstrap(chiso_env.settings) == chiso_env.urls


def _variables(env) -> dict[str, str]:
    return migration_variables(env.settings, env.urls.admin)


def test_an_edited_versioned_file_is_refused_and_a_repeatable_one_runs_again(chiso_env, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, folder)
    ledger = folder / "V002__ingest_ledger.sql"
    ledger.write_text(ledger.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(migrations.MigrationError, match=r"V002__ingest_ledger\.sql changed"):
        migrations.apply(chiso_env.urls.admin, _variables(chiso_env), folder)
    shutil.copy2(migrations.MIGRATIONS_DIR / ledger.name, ledger)

    functions = folder / "R__parsing_functions.sql"
    functions.write_text(functions.read_text() + "\n-- a new definition\n")
    assert migrations.apply(chiso_env.urls.admin, _variables(chiso_env), folder) == [
        "R__parsing_functions.sql"
    ]
    # the folder's own version comes back on the next bootstrap
    assert migrations.apply(chiso_env.urls.admin, _variables(chiso_env)) == [
        "R__parsing_functions.sql"
    ]


def test_a_badly_named_file_is_refused(tmp_path):
    (tmp_path / "002_ledger.sql").write_text("select 1;")
    with pytest.raises(migrations.MigrationError, match=r"V<nnn>__<description>\.sql"):
        migrations.discover(tmp_path)


def test_roles_use_the_control_plane_but_cannot_change_it(chiso_env):
    urls = chiso_env.urls
    with psycopg.connect(urls.transformer) as conn:
        conn.execute("select count(*) from ops.publications")
        conn.execute("select count(*) from raw.ingest_batches")
        for statement in (
            "drop table ops.publications",
            "alter table ops.gate_results add column note text",
            "delete from ops.publications",
            "insert into raw.ingest_batches (batch_id, source, target_table, origin, status)"
            " values (gen_random_uuid(), 'x', 'x', 'x', 'loaded')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
    with psycopg.connect(urls.loader) as conn:
        conn.execute("select count(*) from raw.ingest_batches")
        for statement in (
            "drop table raw.ingest_batches",
            "drop function raw.parse_vn_date(text)",
            "select * from ops.gate_results",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
    with psycopg.connect(urls.bi_reader) as conn:
        conn.execute("select count(*) from marts.kpi_publications")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from ops.publications")


def test_public_may_open_no_database_of_the_cluster_and_the_superusers_password_is_secret(
    chiso_env,
):
    """PostgreSQL lets PUBLIC connect to and make temporary tables in every database; the
    embedded cluster takes both away on every one (the warehouse, Airflow's metadata,
    `postgres`, `template1`), and the roles get exactly what they use. The superuser's
    password lives with the server's secrets (0600 in a 0700 folder), not in its state file."""
    s = chiso_env.settings
    server = EmbeddedPostgres(s)
    names = ["postgres", "template1", s.warehouse_db, s.airflow_db]
    with psycopg.connect(server.superuser_url("postgres")) as conn:
        public = conn.execute(
            "select d.datname, a.privilege_type from pg_database d,"
            " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a"
            " where a.grantee = 0 and d.datname = any(%s)",
            (names,),
        ).fetchall()
    assert public == []
    with psycopg.connect(chiso_env.urls.loader) as conn:  # the roles still get in
        assert conn.execute("select 1").fetchone() == (1,)
    state = server.state_file.read_text()
    assert "password" not in state and server.superuser_password not in state
    secret = s.server_secrets_dir / "superuser.password"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert secret.parent.stat().st_mode & 0o777 == 0o700


def test_the_loader_cannot_change_the_functions_the_transformer_runs(chiso_env):
    """The parsing functions staging runs as the transformer (raw.parse_vn_*, raw.is_malformed,
    raw.canonical_id) belong to the role that applies migrations: the loader, which writes in
    raw, can neither replace, drop nor take them over, and a function of its own with the same
    name but another signature does not capture the transformer's calls on raw's text."""
    urls = chiso_env.urls
    with psycopg.connect(urls.admin) as conn:
        owners = dict(
            conn.execute(
                "select p.proname, pg_get_userbyid(p.proowner) from pg_proc p"
                " join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'raw'"
            ).fetchall()
        )
        loader = conn.execute("select %s::regrole::text", (_role(urls.loader),)).fetchone()[0]
    assert {"parse_vn_int", "parse_vn_date", "is_malformed", "canonical_id"} <= owners.keys()
    assert loader not in owners.values()
    with psycopg.connect(urls.loader) as conn:
        for statement in (
            "create or replace function raw.parse_vn_int(value text) returns bigint"
            " language sql as $$ select 0::bigint $$",
            "alter function raw.is_malformed(text, text) owner to current_user",
            "alter function raw.canonical_id(text) rename to canonical_id_old",
            "drop function raw.canonical_id(text)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        conn.execute(
            "create function raw.parse_vn_int(value varchar) returns bigint"
            " language sql as $$ select -1::bigint $$"
        )
        conn.execute("create table raw.probe (v text)")
        conn.execute("insert into raw.probe values ('12.338')")
        conn.commit()
    try:
        with psycopg.connect(urls.transformer) as conn:
            assert conn.execute("select raw.parse_vn_int(v) from raw.probe").fetchone()[0] == 12338
            assert conn.execute("select raw.parse_vn_int('12.338')").fetchone()[0] == 12338
    finally:
        with psycopg.connect(urls.loader) as conn:
            conn.execute("drop function raw.parse_vn_int(varchar)")
            conn.execute("drop table raw.probe")


def _role(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).username or "")


def test_a_copy_of_the_database_gets_its_database_grants_back(chiso_env):
    """Rights on the database itself do not travel with a copy; bootstrap restores them."""
    settings = chiso_env.settings
    admin = EmbeddedPostgres(settings).superuser_url("postgres")
    copy = f"{settings.warehouse_db}_copy"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"create database {copy} template {settings.warehouse_db}")
        acl = conn.execute("select datacl from pg_database where datname = %s", (copy,))
        assert acl.fetchone()[0] is None  # PUBLIC may connect: the grants did not come along
    try:
        copy_url = chiso_env.urls.admin.rsplit("/", 1)[0] + f"/{copy}"
        variables = {**_variables(chiso_env), "database": copy}
        assert migrations.apply(copy_url, variables) == []  # nothing left to record …
        with psycopg.connect(admin) as conn:
            acl = conn.execute("select datacl::text from pg_database where datname = %s", (copy,))
            granted = acl.fetchone()[0]
        entries = granted.strip("{}").split(",")
        assert "chiso_bi_reader=c/postgres" in entries  # … yet the rights are back,
        assert not any(e.startswith("=") for e in entries)  # PUBLIC's gone
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"drop database if exists {copy} with (force)")
