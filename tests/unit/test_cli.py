"""The command line answers a user's mistake or a known failure with one line saying what to
do and a non-zero exit, never a traceback (unless asked for with --debug).

Each case runs `chiso.cli.main` as the `chiso` script does, in a home of its own: the mistakes
need no database, and "the database is down" is a port nothing listens on.
"""

from __future__ import annotations

import socket

import pytest

from chiso.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home with no server running in it (and no external warehouse)."""
    monkeypatch.setenv("CHISO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHISO_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("CHISO_SERVER_HOME", raising=False)
    monkeypatch.delenv("CHISO_DEBUG", raising=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CHISO_PG_PORT", str(port))
    return tmp_path / "home"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("month", ["2020-13", "2020-00", "20-01", "janvier", "2020-1-1"])
def test_a_month_that_is_not_one_is_refused_with_what_was_expected(home, capsys, month):
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--month", month])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument --month: a month looks like YYYY-MM (e.g. 2020-01), got '{month}'" in err


def test_a_missing_file_is_named_before_anything_starts(home, capsys):
    missing = home / "inbox" / "khong-co.xlsx"
    assert main(["ingest", "one_stop", "--file", str(missing)]) == 2
    assert _one_line(capsys.readouterr().err) == f"error: {missing}: no such file"
    assert not (home / "pgdata").exists()  # refused before starting a server


def test_no_embedded_warehouse_yet_says_how_to_start_it(home, capsys):
    assert main(["report", "--month", "2020-01"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line == "error: embedded PostgreSQL is not initialised: run `chiso db start`"


def test_an_external_warehouse_down_names_no_password(home, capsys, monkeypatch):
    port = int(__import__("os").environ["CHISO_PG_PORT"])
    secret = "m4t-khau-Bi-Mat"
    monkeypatch.setenv(
        "CHISO_WAREHOUSE_URL", f"postgresql://chiso_admin:{secret}@127.0.0.1:{port}/chiso"
    )
    assert main(["publish", "--month", "2020-01"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: cannot reach the warehouse named by CHISO_WAREHOUSE_URL (")
    assert secret not in line


def test_debug_shows_the_traceback_as_well(home, capsys):
    assert main(["--debug", "report", "--month", "2020-01"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("error: embedded PostgreSQL is not initialised")


def test_first_after_last_is_a_users_mistake(home, capsys):
    assert main(["demo", "--first", "2020-04", "--last", "2020-01"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "error: --first 2020-04 comes after --last 2020-01"
    )


def test_no_role_url_is_handed_out_for_an_external_warehouse(home, capsys, monkeypatch):
    """With CHISO_WAREHOUSE_URL every part connects as its user: `db url --role bi_reader`
    refuses rather than print the operator's URL for a BI tool."""
    secret = "Mk-quan-tri-9"
    monkeypatch.setenv("CHISO_WAREHOUSE_URL", f"postgresql://quan_tri:{secret}@db.example.vn/chiso")
    assert main(["db", "url", "--role", "bi_reader"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "no separate bi_reader role" in line and secret not in line
    assert main(["db", "url", "--role", "admin"]) == 0
    assert capsys.readouterr().out.strip().endswith("@db.example.vn/chiso")
