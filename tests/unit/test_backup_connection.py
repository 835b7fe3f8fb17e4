"""How `chiso backup` and `chiso restore` hand the warehouse URL to pg_dump and pg_restore: as
libpq's environment variables, every parameter of the URL kept, no password on a command line."""

from __future__ import annotations

import pytest

from chiso.orchestration.backup import BackupError, libpq_environment


def test_every_connection_parameter_of_the_url_reaches_libpq():
    env = libpq_environment(
        "postgresql://chiso_admin:p%40ss%2Fw0rd@db.tinh.example.vn:6432/chiso"
        "?sslmode=verify-full&sslrootcert=/etc/chiso/ca.pem&sslcert=/etc/chiso/client.pem"
        "&sslkey=/etc/chiso/client.key&connect_timeout=10&application_name=chiso%20backup"
    )
    assert env == {
        "PGHOST": "db.tinh.example.vn", "PGPORT": "6432", "PGUSER": "chiso_admin",
        "PGPASSWORD": "p@ss/w0rd", "PGDATABASE": "chiso", "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/etc/chiso/ca.pem", "PGSSLCERT": "/etc/chiso/client.pem",
        "PGSSLKEY": "/etc/chiso/client.key", "PGCONNECT_TIMEOUT": "10",
        "PGAPPNAME": "chiso backup",
    }  # fmt: skip


def test_a_parameter_libpq_has_no_variable_for_is_refused_without_its_value():
    with pytest.raises(BackupError, match="'sslpassword'") as refused:
        libpq_environment("postgresql://u@h/chiso?sslpassword=k3y-s3cret")
    assert "k3y-s3cret" not in str(refused.value)
