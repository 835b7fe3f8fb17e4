"""What a child process inherits of this one's environment.

The project starts children (dbt, the embedded PostgreSQL, the source simulator, Airflow's
services) and each used to get the whole environment: the admin URL of an external warehouse,
the personal-data key, API tokens, an SMTP password, and whatever secrets the operator's shell
held for other tools. A child that logs its environment, or a crash report that dumps it,
would carry them all. Here a child gets the environment without any variable whose name says
it is secret, and each caller adds back, by name, the secrets that child needs.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping

# Names of variables that hold secrets, by the conventions tools follow: passwords, tokens,
# keys, credentials, connection strings and URLs (which may carry a user:password@).
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|COOKIE|AUTH"
    r"|(^|_)KEY($|_)|(^|_)CONN($|_)|_URL$|_URI$|^PGPASS|^AIRFLOW_CONN_",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def inherited(keep: Iterable[str] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (or `source`) without its secrets, except those whose
    names match a pattern of `keep` (shell-style, e.g. ``AIRFLOW__*``)."""
    patterns = tuple(keep)
    env = os.environ if source is None else source
    return {
        name: value
        for name, value in env.items()
        if not is_secret_name(name) or any(fnmatch.fnmatchcase(name, p) for p in patterns)
    }
