"""The leaders' dashboard in a real Apache Superset, read by a real browser.

Superset runs from its own virtualenv with its metadata on the run's server; `superset.up`
prepares it, imports the dashboard kept as code (infra/superset/dashboard/) connected as the
template warehouse's BI reader, and serves it, as `make bi` does. The system's Chromium
(headless, driven by Selenium) logs in and opens the dashboard. The checks compare what it
drew with the marts, read here directly (not through the dashboard's SQL): the numbers on the
page, formatted the Vietnamese way, and the answers Superset sent the page (from Chromium's
network log) for the charts drawn on a canvas.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest

from chiso.core.config import REPO_ROOT, Settings
from chiso.runtime import superset
from tests.browser import chromium, responses

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# the deployment's province: Hải Phòng, whose restated series (today's agencies, Hải Dương's
# included) differs from the one as reported
PROVINCE = "31"
INDICATOR = "dossier.online_rate_l34"  # the dashboard's default indicator
CHARTS = 6
# CHISO_DOCS_SCREENSHOTS=1 keeps the screenshot in docs/images/ (docs/images/README.md)
SCREENSHOT = REPO_ROOT / "docs" / "images" / "dashboard-superset.png"
PERCENT = re.compile(r"^\d{1,3}(\.\d{3})*,\d{2}%$")


@pytest.fixture(scope="module")
def dashboard(built_env):
    """Superset up on the module's copy of the template, as `make bi` starts it."""
    saved = {k: os.environ.get(k) for k in ("CHISO_REPORT_PROVINCES", superset.WORKERS_ENV)}
    os.environ.update({"CHISO_REPORT_PROVINCES": PROVINCE, superset.WORKERS_ENV: "1"})
    settings = Settings.from_env()
    try:
        superset.up(settings)
        yield built_env, settings
    finally:
        superset.down(settings)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _login(driver, settings: Settings) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{superset.url(settings)}/login/")
    wait = WebDriverWait(driver, 60)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, '[data-test="username-input"]')))
    driver.find_element(By.CSS_SELECTOR, '[data-test="username-input"]').send_keys(
        superset.ADMIN_USER
    )
    driver.find_element(By.CSS_SELECTOR, '[data-test="password-input"]').send_keys(
        superset.admin_password(settings)
    )
    driver.find_element(By.CSS_SELECTOR, '[data-test="login-button"]').click()
    wait.until(lambda d: "/login" not in d.current_url)


def _open(driver, settings: Settings, query: str = "") -> dict[str, str]:
    """Open the dashboard and wait until every chart has drawn; each chart's text by title."""
    from selenium.webdriver.common.by import By

    driver.get(superset.dashboard_url(settings) + query)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        charts = driver.find_elements(By.CSS_SELECTOR, '[data-test="chart-grid-component"]')
        drawn = [
            c
            for c in charts
            if not c.find_elements(By.CSS_SELECTOR, ".loading")
            and c.find_elements(
                By.CSS_SELECTOR, "canvas, .header-line, table, .superset-legacy-chart-table"
            )
        ]
        if len(charts) == CHARTS and len(drawn) == CHARTS:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the dashboard drew {len(drawn)} of {CHARTS} charts in 120 s")
    time.sleep(1.5)  # the canvas's animation
    texts = {}
    for chart in driver.find_elements(By.CSS_SELECTOR, '[data-test="chart-grid-component"]'):
        title, _, body = chart.text.partition("\n")
        big = chart.find_elements(By.CSS_SELECTOR, ".header-line")
        # a big number's figure alone; a table's whole text
        texts[title.strip()] = big[0].text.strip() if big else body
    return texts


def _answers(driver, settings: Settings) -> dict[str, dict]:
    """Superset's answers to the page's chart queries, by chart title: the filters the query
    carried and the rows it got."""
    names = _chart_names(settings)
    out = {}
    for request, body in responses(driver, "/api/v1/chart/data"):
        form = json.loads(request.get("postData") or "{}")
        slice_id = form.get("form_data", {}).get("slice_id")
        if slice_id is None:
            continue  # a filter's values
        query, result = form["queries"][0], body["result"][0]
        assert not result.get("error"), result["error"]
        filters = {f["col"]: f["val"] for f in query.get("filters", [])}
        out[names[slice_id]] = {"filters": filters, "data": result["data"]}
    return out


@contextlib.contextmanager
def _api(settings: Settings) -> Iterator[httpx.Client]:
    """A client of Superset's REST API, logged in as the admin."""
    login = {
        "username": superset.ADMIN_USER,
        "password": superset.admin_password(settings),
        "provider": "db",
    }
    with httpx.Client(base_url=superset.url(settings), timeout=30) as client:
        token = client.post("/api/v1/security/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _chart_names(settings: Settings) -> dict[int, str]:
    """The dashboard's charts by id, through Superset's REST API."""
    with _api(settings) as client:
        charts = client.get("/api/v1/chart/", params={"q": "(page_size:100)"}).json()["result"]
    return {c["id"]: c["slice_name"] for c in charts}


def _marts(url: str, province: str = PROVINCE) -> dict:
    """What the dashboard should show by default, read from the marts directly."""
    with psycopg.connect(url) as conn:
        month = conn.execute(
            "select max(period_month) from marts.kpi_publications where is_current"
        ).fetchone()[0]
        name = conn.execute(
            "select distinct province_name from marts.mart_kpi_rollups where province_code = %s",
            (province,),
        ).fetchone()[0]
        rollup = (
            "select {} from marts.mart_kpi_rollups where province_code = %s"
            " and rollup_level = 'province' and calendar = 'calendar' and period_type = 'month'"
            " and unit = 'ratio' and {}"
        )
        total = conn.execute(
            rollup.format("value", "basis = 'as_reported' and closing_month = %s"
                          " and indicator_code = %s"),
            (province, month, INDICATOR),
        ).fetchone()[0]  # fmt: skip
        trend = conn.execute(
            rollup.format("closing_month, basis, value", "indicator_code = %s"),
            (province, INDICATOR),
        ).fetchall()
        indicators = conn.execute(
            rollup.format(
                "indicator_name_vi, value", "basis = 'as_reported' and closing_month = %s"
            ),
            (province, month),
        ).fetchall()
        agencies = conn.execute(
            "select agency_name, rank_in_tier, value, target_met, tier"
            " from marts.mart_kpi_monthly where province_code = %s and period_month = %s"
            " and calendar = 'calendar' and indicator_code = %s"
            " order by value desc nulls last, agency_name",
            (province, month, INDICATOR),
        ).fetchall()
    return {
        "month": month, "province": name, "total": total, "trend": trend,
        "indicators": indicators, "agencies": agencies,
    }  # fmt: skip


def _number(text: str) -> Decimal:
    """'14,16%' → 14.16 (Vietnamese: decimal comma, dot between thousands)."""
    assert PERCENT.match(text), f"not a Vietnamese percentage: {text!r}"
    return Decimal(text.rstrip("%").replace(".", "").replace(",", "."))


def _shown(value: Decimal | float) -> Decimal:
    return (Decimal(str(value)) * 100).quantize(Decimal("0.01"))


def test_the_dashboard_draws_the_marts_numbers(dashboard):
    """Opened as a leader opens it (the deployment's province, the whole province, the latest
    month, calendar months): the big numbers, both tables and the trend's two series are the
    marts' numbers, the numbers on the page written the Vietnamese way."""
    env, settings = dashboard
    want = _marts(env.urls.bi_reader)
    with chromium() as driver:
        _login(driver, settings)
        texts = _open(driver, settings)
        answers = _answers(driver, settings)

    # every chart asked for the province, the whole province and calendar months
    for title, answer in answers.items():
        assert answer["filters"]["province_name"] == [want["province"]], title
        assert answer["filters"]["scope_name"] == ["Toàn tỉnh"], title
        assert answer["filters"]["calendar_name"] == ["Tháng dương lịch"], title
    assert len(answers) == CHARTS

    # the value of the month, on the page and in the answer
    value = answers["Giá trị tháng"]
    assert value["filters"]["month_name"] == ["Mới nhất"]
    assert Decimal(str(value["data"][0]["gia_tri"])) == want["total"]
    assert _number(texts["Giá trị tháng"]) == _shown(want["total"])
    # a province has no target of its own; its agencies do
    assert answers["Mục tiêu của cấp"]["data"][0]["muc_tieu"] is None
    met = sum(1 for a in want["agencies"] if a[3])
    assert answers["Đơn vị đạt mục tiêu"]["data"][0]["so_don_vi_dat"] == met
    assert texts["Đơn vị đạt mục tiêu"] == str(met)

    # the trend: every published month, as reported and restated, whatever the month filter
    trend = answers["Xu hướng theo tháng"]
    assert "month_name" not in trend["filters"]
    drawn = {
        (datetime.fromtimestamp(row["period_month"] / 1000, UTC).date(), series): value
        for row in trend["data"]
        for series, value in row.items()
        if series != "period_month"
    }
    labels = {"as_reported": "Như đã báo cáo", "restated": "Tính lại theo đơn vị hiện nay"}
    expected = {(m, labels[b]): float(v) for m, b, v in want["trend"]}
    assert drawn == expected
    assert {b for _, b, _ in want["trend"]} == {"as_reported", "restated"}
    assert {m for m, _, _ in want["trend"]} >= {want["month"], date(want["month"].year, 1, 1)}

    # every rate indicator of the month against the tier targets, as the table shows them
    table = answers["Các chỉ số so với mục tiêu"]
    assert "indicator_name_vi" not in table["filters"]
    assert sorted((r["indicator_name_vi"], r["value"]) for r in table["data"]) == sorted(
        (n, float(v) if v is not None else None) for n, v in want["indicators"]
    )
    page = texts["Các chỉ số so với mục tiêu"]
    for name, v in want["indicators"][:10]:
        if v is not None:
            assert name in page and f"{_shown(v):.2f}".replace(".", ",") + "%" in page

    # the ranking: the province's agencies, best first, with their rank within their tier
    ranking = answers["Xếp hạng đơn vị"]
    assert [(r["agency_name"], r["rank_in_tier"]) for r in ranking["data"]] == [
        (a[0], a[1]) for a in want["agencies"]
    ]
    assert want["agencies"][0][0] in texts["Xếp hạng đơn vị"]


def _filter_link(**values: str) -> str:
    """A link's query that sets native filters (by id suffix) to one value each."""
    columns = {"tinh": "province_name", "pham-vi": "scope_name"}
    parts = []
    for key, value in values.items():
        v = quote(f"'{value}'")
        parts.append(
            f"NATIVE_FILTER-{key}:(id:NATIVE_FILTER-{key},extraFormData:(filters:!((col:"
            f"{columns[key]},op:IN,val:!({v})))),filterState:(value:!({v})))"
        )
    return f"?native_filters=({','.join(parts)})"


def test_a_tier_of_another_province_against_its_target(dashboard):
    """A link with the province and the tier set (Hải Dương's departments, which have a
    target): the total is the tier's, the target is the one its agencies share, the ranking
    holds that tier's agencies alone, ranked 1, 2, … as the mart ranks them, each assessed
    against its target as the mart says. Its screenshot is the docs' one."""
    env, settings = dashboard
    province, tier_label, tier = "30", "Sở, ban, ngành", "province_dept"
    want = _marts(env.urls.bi_reader, province)
    with psycopg.connect(env.urls.bi_reader) as conn:
        total = conn.execute(
            "select value from marts.mart_kpi_rollups where province_code = %s"
            " and rollup_level = 'tier' and tier = %s and basis = 'as_reported'"
            " and calendar = 'calendar' and period_type = 'month' and closing_month = %s"
            " and indicator_code = %s",
            (province, tier, want["month"], INDICATOR),
        ).fetchone()[0]
        targets = conn.execute(
            "select distinct target_value from marts.mart_kpi_monthly where province_code = %s"
            " and tier = %s and period_month = %s and calendar = 'calendar'"
            " and indicator_code = %s",
            (province, tier, want["month"], INDICATOR),
        ).fetchall()
    assert len(targets) == 1 and targets[0][0] is not None  # the tier's agencies share one
    target = targets[0][0]
    with chromium() as driver:
        _login(driver, settings)
        texts = _open(
            driver, settings, _filter_link(tinh=want["province"], **{"pham-vi": tier_label})
        )
        answers = _answers(driver, settings)
        shot = settings.home / "dashboard.png"
        driver.save_screenshot(str(shot))
    if os.environ.get("CHISO_DOCS_SCREENSHOTS"):
        SCREENSHOT.write_bytes(shot.read_bytes())
    assert shot.stat().st_size > 50_000
    assert {a["filters"]["scope_name"][0] for a in answers.values()} == {tier_label}
    assert {a["filters"]["province_name"][0] for a in answers.values()} == {want["province"]}
    assert Decimal(str(answers["Giá trị tháng"]["data"][0]["gia_tri"])) == total
    assert _number(texts["Giá trị tháng"]) == _shown(total)
    assert Decimal(str(answers["Mục tiêu của cấp"]["data"][0]["muc_tieu"])) == target
    assert _number(texts["Mục tiêu của cấp"]) == _shown(target)
    rows = answers["Xếp hạng đơn vị"]["data"]
    mine = [a for a in want["agencies"] if a[4] == tier]
    assert [(r["agency_name"], r["rank_in_tier"]) for r in rows] == [(a[0], a[1]) for a in mine]
    assert mine and [a[1] for a in mine if a[1]] == sorted(a[1] for a in mine if a[1])
    assert [r["target_status_name"] == "Đạt" for r in rows] == [bool(a[3]) for a in mine]
    met = sum(1 for a in mine if a[3])
    assert texts["Đơn vị đạt mục tiêu"] == str(met)
    others = {a[0] for a in want["agencies"] if a[4] != tier}
    assert not any(name in texts["Xếp hạng đơn vị"] for name in others)


def test_superset_keeps_no_warehouse_password_and_logs_no_secret(dashboard):
    """The connection Superset stores has no password (the configuration hands it over per
    connection), and no secret chiso gave Superset is in its logs or the imported bundle."""
    _, settings = dashboard
    with _api(settings) as client:
        databases = client.get("/api/v1/database/").json()["result"]
        (database,) = [d for d in databases if d["database_name"] == "chiso_marts"]
        connection = client.get(f"/api/v1/database/{database['id']}/connection").json()
    uri = connection["result"]["sqlalchemy_uri"]
    assert re.match(r"^postgresql\+psycopg2://chiso_bi_reader@127\.0\.0\.1:\d+/", uri), uri
    env_vars = superset.superset_env(settings)
    secrets = [
        superset.admin_password(settings),
        env_vars["CHISO_SUPERSET_SECRET_KEY"],
        env_vars["CHISO_SUPERSET_WAREHOUSE_PASSWORD"],
    ]
    files = [*settings.log_dir.glob("superset*.log"), settings.bi_home / "dashboard.zip"]
    assert len(files) >= 3
    for path in files:
        data = path.read_bytes()
        assert data
        for secret in secrets:
            assert secret.encode() not in data, f"a secret in {path.name}"
    assert Path(env_vars["SUPERSET_CONFIG_PATH"]).read_text().count("os.environ") >= 3
