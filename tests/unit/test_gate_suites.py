"""The gate's suite files, read without a database: layout, generated raw suites in sync,
placeholders and parameters, and GX taking every expectation of every file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from chiso_sim.generate.raw_suites import main as raw_suites_main

from chiso.quality import specs
from chiso.sources.canonical import ENTITIES

MONTH = date(2020, 3, 1)


def test_every_layer_has_suites_and_names_are_unique() -> None:
    loaded = specs.load_suite_specs()
    layers = {s.layer for s in loaded}
    assert layers == set(specs.LAYERS)
    assert [s.layer for s in loaded] == sorted((s.layer for s in loaded), key=specs.LAYERS.index), (
        "raw, then staging, then kpi"
    )
    raw = {s.table for s in loaded if s.layer == "raw"}
    assert raw == {f"raw.{e.table}" for e in ENTITIES}


def test_stale_raw_suite_is_reported(tmp_path: Path) -> None:
    raw_suites_main(["--directory", str(tmp_path)])
    assert raw_suites_main(["--check", "--directory", str(tmp_path)]) == 0
    path = tmp_path / "one_stop__dossiers.json"
    path.write_text(path.read_text(encoding="utf-8").replace("ngay_tiep_nhan", "ngay_nhan"))
    assert raw_suites_main(["--check", "--directory", str(tmp_path)]) == 1


def test_placeholders_become_literals_and_batch_is_left_to_gx() -> None:
    params = {"volume_min_base": 30}
    text = "select * from {batch} where d between {previous_month} and {next_month} - 1"
    text += " and n >= {param:volume_min_base}"
    assert specs.render(text, MONTH, params) == (
        "select * from {batch} where d between DATE '2020-02-01' and DATE '2020-04-01' - 1"
        " and n >= 30"
    )
    with pytest.raises(specs.GateConfigError, match="no number"):
        specs.render("{param:volume_ratio_min}", MONTH, {"volume_ratio_min": "0.5; drop"})


def test_month_literals_cross_the_year() -> None:
    literals = specs.month_literals(date(2020, 12, 1))
    assert literals["next_month"] == "DATE '2021-01-01'"
    assert specs.month_literals(date(2020, 1, 1))["previous_month"] == "DATE '2019-12-01'"


def test_parameters_have_defaults_and_environment_overrides(monkeypatch) -> None:
    defaults = specs.load_parameters()
    assert defaults["volume_ratio_min"] < 1 < defaults["volume_ratio_max"]
    monkeypatch.setenv("CHISO_GATE_VOLUME_RATIO_MIN", "0.3")
    assert specs.load_parameters()["volume_ratio_min"] == 0.3
    monkeypatch.setenv("CHISO_GATE_VOLUME_MIN_BASE", "many")
    with pytest.raises(specs.GateConfigError, match="CHISO_GATE_VOLUME_MIN_BASE"):
        specs.load_parameters()


def test_a_deployment_file_overrides_the_defaults_and_the_environment_overrides_it(
    monkeypatch, tmp_path: Path
) -> None:
    bounds = tmp_path / "gate-parameters.json"
    assert specs.load_parameters(overrides_file=bounds) == specs.load_parameters()  # no file
    bounds.write_text('{"volume_ratio_min": 0.25, "volume_min_base": 10}')
    params = specs.load_parameters(overrides_file=bounds)
    assert params["volume_ratio_min"] == 0.25 and params["volume_min_base"] == 10
    assert isinstance(params["volume_min_base"], int)
    monkeypatch.setenv("CHISO_GATE_VOLUME_RATIO_MIN", "0.4")
    assert specs.load_parameters(overrides_file=bounds)["volume_ratio_min"] == 0.4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ("[0.5]", "JSON object"),
        ('{"volume_ratio_minimum": 0.5}', "unknown gate parameter"),
        ('{"volume_ratio_min": "half"}', "expected a number"),
        ('{"volume_ratio_min": 50}', "above volume_ratio_max"),
    ],
)
def test_a_deployment_file_that_makes_no_sense_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    bounds = tmp_path / "gate-parameters.json"
    bounds.write_text(text)
    with pytest.raises(specs.GateConfigError, match=message):
        specs.load_parameters(overrides_file=bounds)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHISO_GATE_VOLUME_RATIO_MIN", "nan", "finite"),
        ("CHISO_GATE_VOLUME_RATIO_MAX", "inf", "finite"),
        ("CHISO_GATE_VOLUME_RATIO_MIN", "2.5", "above volume_ratio_max"),
    ],
)
def test_parameter_overrides_that_make_no_sense_are_refused(
    monkeypatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(specs.GateConfigError, match=message):
        specs.load_parameters()


def test_query_batches_are_wrapped_for_gx() -> None:
    (volume,) = [s for s in specs.load_suite_specs() if s.query]
    query = volume.batch_query(MONTH, specs.load_parameters())
    assert query.startswith("SELECT * FROM (WITH ")
    assert "{" not in query


def _copy(tmp_path: Path) -> Path:
    from chiso.core.config import EXPECTATIONS_DIR

    target = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS_DIR, target)
    return target


def test_malformed_suite_files_are_refused(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "kpi" / "kpi_monthly.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["meta"]["table"] = "audit.mart; drop table x"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(specs.GateConfigError, match="plain identifiers"):
        specs.load_suite_specs(directory)


def test_gx_takes_every_expectation_of_every_suite() -> None:
    from chiso.quality.gate import gx_suite

    params = {**specs.load_parameters(), "valid_agency_codes": [], "indicator_codes": []}
    params["expected_rows"] = 0
    for spec in specs.load_suite_specs():
        assert len(gx_suite(spec, MONTH, params).expectations) == len(spec.document["expectations"])


def test_summary_report_checks_are_warnings_and_kept_apart_from_failures() -> None:
    """The reconciliation of the summary reports warns (it never withholds a month); the
    verdict lists warnings after failures and passes with them."""
    from types import SimpleNamespace

    from chiso.quality.gate import ExpectationFailure, GateResult, gx_suite, is_warning

    params = {**specs.load_parameters(), "valid_agency_codes": [], "indicator_codes": []}
    (spec,) = [s for s in specs.load_suite_specs() if s.name == "kpi_aggregate_reports"]
    (expectation,) = gx_suite(spec, MONTH, {**params, "expected_rows": 0}).expectations
    assert is_warning(SimpleNamespace(expectation_config=expectation.configuration))
    (critical,) = [
        e
        for s in specs.load_suite_specs()
        if s.name == "kpi_monthly_reconciliation"
        for e in gx_suite(s, MONTH, {**params, "expected_rows": 0}).expectations[:1]
    ]
    assert not is_warning(SimpleNamespace(expectation_config=critical.configuration))
    warning = ExpectationFailure(
        "kpi_aggregate_reports", "unexpected_rows_expectation", None, {}, {"unexpected_count": 1},
        [{"row_label": "Sở Y tế", "printed_value": 12338, "expected_value": 12340}],
    )  # fmt: skip
    verdict = GateResult(MONTH, True, [], 40, warnings=[warning]).summary()
    assert verdict.startswith("Quality gate 2020-03: PASSED (40 expectations, 1 warning(s))")
    assert "! [kpi_aggregate_reports]" in verdict and "12338" in verdict


def test_an_expectation_gx_cannot_parse_is_refused(tmp_path: Path) -> None:
    """GX drops an invalid expectation with a log line; the gate must refuse instead."""
    from chiso.quality.gate import gx_suite

    directory = _copy(tmp_path)
    path = directory / "kpi" / "kpi_monthly.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "expect_column_values_to_not_be_null", "expect_column_values_to_be_purple", 1
        ),
        encoding="utf-8",
    )
    (spec,) = [s for s in specs.load_suite_specs(directory) if s.name == "kpi_monthly"]
    n = len(spec.document["expectations"])
    with pytest.raises(specs.GateConfigError, match=f"accepted {n - 1} of {n}"):
        gx_suite(spec, MONTH, {})


def test_module_import_stays_cheap() -> None:
    """Airflow imports the gate while parsing DAGs: GX must only load when validating."""
    code = "import sys, chiso.quality, chiso.pipeline; print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "False"
