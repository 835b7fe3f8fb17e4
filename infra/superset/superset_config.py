"""Apache Superset's configuration for chiso's leaders' dashboard (`make bi`).

Superset reads this file (SUPERSET_CONFIG_PATH) in every process chiso starts for it
(chiso/runtime/superset.py): the setup and the web server. Everything deployment-specific
comes from the environment chiso gives those processes, so the file holds no secret:

- ``CHISO_SUPERSET_METADATA_URL``: Superset's own database (dashboards, users), a database of
  the warehouse's PostgreSQL server;
- ``CHISO_SUPERSET_SECRET_KEY``: signs sessions and encrypts what Superset stores (generated
  once per home by chiso);
- ``CHISO_SUPERSET_WAREHOUSE_USER`` and ``…_PASSWORD``: the login of the warehouse's BI reader.
  The dashboard's database connection is imported without a password; Superset asks
  `_warehouse_password` for it at each connection, so the password lives in chiso's secrets
  only, never in Superset's tables or in an exported dashboard.

No Redis, no Celery: caches are off (the marts change once a month and answer in
milliseconds), the features that need workers (async queries, thumbnails, alerts and
reports) are off; the monthly report is chiso's own (chiso/report/).
"""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = os.environ["CHISO_SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["CHISO_SUPERSET_METADATA_URL"]
DATA_DIR = os.environ.get("SUPERSET_HOME", "")

FEATURE_FLAGS = {
    "GLOBAL_ASYNC_QUERIES": False,
    "THUMBNAILS": False,
    "ALERT_REPORTS": False,
    "DASHBOARD_RBAC": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
}
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RESULTS_BACKEND = None
CELERY_CONFIG = None
RATELIMIT_ENABLED = False

# Served on 127.0.0.1 over HTTP by default: a province puts it behind its TLS proxy, and then
# sets TALISMAN_ENABLED=true and SESSION_COOKIE_SECURE=true in this file's environment.
TALISMAN_ENABLED = os.environ.get("TALISMAN_ENABLED", "false").lower() == "true"
SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "false").lower() == "true"
WTF_CSRF_ENABLED = True

# Numbers the Vietnamese way in every chart and table: 67,53% and 12.338.
D3_FORMAT = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}
# Dates as Vietnamese readers write them.
D3_TIME_FORMAT = {
    "dateTime": "%A, %e/%m/%Y, %X",
    "date": "%d/%m/%Y",
    "time": "%H:%M:%S",
    "periods": ["SA", "CH"],
    "days": ["Chủ nhật", "Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy"],
    "shortDays": ["CN", "T2", "T3", "T4", "T5", "T6", "T7"],
    "months": [f"Tháng {m}" for m in range(1, 13)],
    "shortMonths": [f"Th{m}" for m in range(1, 13)],
}

# The warehouse is PostgreSQL: no file uploads, no DML, nothing but reading the marts.
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False


def _warehouse_password(url: Any) -> str | None:
    """The password of a database connection, at connection time (module docstring)."""
    if url.username and url.username == os.environ.get("CHISO_SUPERSET_WAREHOUSE_USER"):
        return os.environ.get("CHISO_SUPERSET_WAREHOUSE_PASSWORD")
    return url.password


SQLALCHEMY_CUSTOM_PASSWORD_STORE = _warehouse_password
