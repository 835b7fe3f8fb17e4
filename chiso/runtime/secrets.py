"""Secrets the embedded default generates for itself, kept outside the repository.

A province's deployment supplies its own (an external server's URL, Airflow connections, its
secret store); a fresh machine running the demo or the tests gets these, generated once with
``secrets`` and written with mode 0600:

- ``<server home>/secrets/roles.json``: the passwords of the warehouse's roles on the embedded
  server (shared by every home using that server: roles belong to the server);
- ``<home>/secrets/airflow.json``: Airflow's API and JWT secrets, its ``admin`` password and
  the bearer token of the local source simulator; ``airflow_passwords.json`` is that password
  in the file Airflow's simple auth manager reads.

The personal-data hash key has its own module (chiso/core/pii.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from chiso.core.config import Settings
from chiso.core.files import replace_atomically

ROLE_PASSWORDS = "roles.json"
HOME_SECRETS = "airflow.json"


def _generated(path: Path, names: Iterable[str], nbytes: int) -> dict[str, str]:
    """The named secrets in `path`, generating and saving any that are missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in data]
    if missing:
        data.update({name: secrets.token_urlsafe(nbytes) for name in missing})
        write_private(path, json.dumps(data, indent=2))
    return data


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by this account alone from its first byte (created
    0600, then renamed over the old file: a reader never sees half of it)."""
    replace_atomically(path, text.encode("utf-8"), 0o600)


def role_passwords(settings: Settings, roles: Iterable[str]) -> dict[str, str]:
    """Passwords of the embedded server's roles (generated once per server)."""
    return _generated(settings.server_secrets_dir / ROLE_PASSWORDS, roles, 18)


def home_secret(settings: Settings, name: str) -> str:
    """A secret of this home (Airflow's API and JWT secrets, the simulator's token)."""
    return _generated(settings.secrets_dir / HOME_SECRETS, [name], 32)[name]


def simulator_token(settings: Settings) -> str:
    """Bearer token of the local source simulator (a demo secret, never committed)."""
    return home_secret(settings, "one_stop_simulator_token")
