"""What a validation vouches for: a hash of the audit rows of a month."""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql

from chiso.publish.marts import MARTS, tuples


def audit_fingerprint(conn: psycopg.Connection, month: date) -> str:
    """A hash of the audit area's rows of the month (every published mart, `_built_at` included).

    The gate records it with its outcome and the publisher compares it under the lock: a
    validation vouches for the rows it read, not for whatever a later rebuild put there.
    """
    query = sql.SQL(
        "select coalesce(md5(string_agg(h, '' order by h)), '') from"
        " (select md5(t::text) as h from {} as t where {} = %s) as rows"
    )
    return ":".join(
        tuples(conn)
        .execute(
            query.format(sql.Identifier("audit", m.name), sql.Identifier(m.month_column)), (month,)
        )
        .fetchone()[0]
        for m in MARTS
    )
