"""Children get only the secrets they need, and `chiso airflow env` prints none.

The secrets are planted in this process's environment, as an operator's shell or a CI runner
holds them; each child's environment and the printed one are searched for their values.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chiso.cli import main
from chiso.core.config import Settings
from chiso.core.environment import inherited, is_secret_name
from chiso.runtime.airflow import admin_password, airflow_env
from chiso.transform.dbt import dbt_env

WAREHOUSE_PASSWORD = "Mk-kho-du-lieu-7f3a"
SECRETS = {
    "CHISO_WAREHOUSE_URL": (
        f"postgresql://chiso_admin:{WAREHOUSE_PASSWORD}@db.tinh.example.vn:5432/chiso"
        "?sslmode=verify-full&sslrootcert=/etc/chiso/ca.pem"
    ),
    "CHISO_PII_KEY": "khoa-bam-du-lieu-ca-nhan-1b2c3d",
    "CHISO_ONE_STOP_API_TOKEN": "token-mot-cua-9e8d7c",
    "AIRFLOW_CONN_CHISO_ALERT_SMTP": "smtp://canhbao:matkhau-smtp-5a4b@mail.example.vn:587",
    "GITHUB_TOKEN": "ghp_not_for_children_0000",
    "PGPASSWORD": "pg-password-of-the-shell",
}


@pytest.fixture
def planted(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("CHISO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHISO_SERVER_HOME", raising=False)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def _values(env: dict[str, str] | str) -> str:
    return env if isinstance(env, str) else "\n".join(f"{k}={v}" for k, v in env.items())


def test_secret_names_are_recognised_by_convention() -> None:
    for name in (
        *SECRETS,
        "AWS_SECRET_ACCESS_KEY",
        "CHISO_SMTP_PASSWORD",
        "AIRFLOW__API__SECRET_KEY",
    ):
        assert is_secret_name(name), name
    for name in ("PATH", "HOME", "LANG", "CHISO_HOME", "CHISO_BUILD_MONTH", "KEYBOARD", "TZ"):
        assert not is_secret_name(name), name


def test_a_child_keeps_only_the_secrets_it_is_given(planted) -> None:
    env = inherited(keep=["CHISO_PII_KEY"])
    assert env["CHISO_PII_KEY"] == SECRETS["CHISO_PII_KEY"]
    assert env["PATH"] == os.environ["PATH"]
    assert not {"CHISO_WAREHOUSE_URL", "GITHUB_TOKEN", "PGPASSWORD"} & env.keys()


def test_dbt_gets_the_transformers_credentials_and_tls_and_no_other_secret(planted) -> None:
    env = dbt_env(planted)
    assert env["CHISO_DBT_HOST"] == "db.tinh.example.vn"
    assert env["CHISO_DBT_SSLMODE"] == "verify-full"
    assert env["CHISO_DBT_SSLROOTCERT"] == "/etc/chiso/ca.pem"
    text = _values({k: v for k, v in env.items() if k not in ("CHISO_DBT_PASSWORD", "PGOPTIONS")})
    for name, value in SECRETS.items():
        assert value not in text, f"dbt inherits {name}"


def test_airflow_keeps_its_own_and_the_projects_secrets_but_not_the_shells(planted) -> None:
    env = airflow_env(planted)
    assert env["CHISO_WAREHOUSE_URL"] == SECRETS["CHISO_WAREHOUSE_URL"]  # tasks connect with it
    assert env["AIRFLOW_CONN_CHISO_ALERT_SMTP"] == SECRETS["AIRFLOW_CONN_CHISO_ALERT_SMTP"]
    assert not {"GITHUB_TOKEN", "PGPASSWORD"} & env.keys()


def test_airflow_env_prints_no_secret_and_airflow_reads_them_through_commands(
    planted, capsys
) -> None:
    assert main(["airflow", "env"]) == 0
    printed = capsys.readouterr().out
    for name, value in SECRETS.items():
        assert value not in printed, f"`chiso airflow env` prints {name}"
    assert WAREHOUSE_PASSWORD not in printed
    full = airflow_env(planted)
    for name in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert full[name] not in printed
    assert admin_password(planted) not in printed and admin_password(planted) not in _values(full)
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in printed.splitlines()
    )
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in exported
    assert exported["AIRFLOW_HOME"] == str(planted.airflow_home)
    # Airflow itself resolves the secret through the printed command, in the shell that ran
    # `eval "$(chiso airflow env)"` (which holds the operator's settings)
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run(
        [str(airflow), "config", "get-value", "database", "sql_alchemy_conn"],
        env={**os.environ, **exported},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == full["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_airflow_secret_knows_only_airflows_secrets(planted, capsys) -> None:
    assert main(["airflow", "secret", "pii_key"]) == 2
    assert "airflow secret needs one of" in capsys.readouterr().err


def test_airflow_requires_a_login_whose_password_airflow_never_generates(planted) -> None:
    """No open admin: one user, whose password chiso generated and wrote into the manager's
    passwords file (0600, in secrets/) before Airflow reads it, so Airflow prints none."""
    env = airflow_env(planted)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    passwords = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert passwords.parent == planted.secrets_dir
    assert passwords.stat().st_mode & 0o777 == 0o600
    assert json.loads(passwords.read_text()) == {"admin": admin_password(planted)}
    assert len(admin_password(planted)) >= 32
    assert airflow_env(planted) == env  # the same password every time
