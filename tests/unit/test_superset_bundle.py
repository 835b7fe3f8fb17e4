"""The dashboard bundle chiso imports into Superset (chiso/runtime/superset.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import yaml

from chiso.core.config import Settings
from chiso.runtime import superset


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path,
        external_url="postgresql://chiso_bi_reader:s3cr%40t@db.tinh.example:6432/chiso",
        pg_port_hint=0, airflow_port=0, simulator_port=0,
    )  # fmt: skip


def _files(data: bytes) -> dict[str, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n.split("/", 1)[1]: yaml.safe_load(zf.read(n)) for n in zf.namelist()}


def test_the_bundle_connects_as_the_deployment_without_its_password(tmp_path):
    data = superset.bundle(_settings(tmp_path), "Hải Phòng")
    files = _files(data)
    assert files["metadata.yaml"]["type"] == "assets"
    uri = files[superset.DATABASE_FILE]["sqlalchemy_uri"]
    assert uri == "postgresql+psycopg2://chiso_bi_reader@db.tinh.example:6432/chiso"
    assert b"s3cr" not in data
    # every chart of the dashboard's layout is in the bundle, on the one dataset
    dashboard = files[superset.DASHBOARD_FILE]
    placed = {
        node["meta"]["uuid"]
        for node in dashboard["position"].values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    }
    charts = {f["uuid"]: f for name, f in files.items() if name.startswith("charts/")}
    assert placed == set(charts) and len(charts) == 6
    datasets = {f["uuid"]: f for name, f in files.items() if name.startswith("datasets/")}
    dataset = files["datasets/chiso_marts/leaders_kpi.yaml"]
    assert {c["dataset_uuid"] for c in charts.values()} == {dataset["uuid"]}
    # each filter lists its values from a dataset of its own, and reaches the charts through
    # the charts' column of the same name
    columns = {c["column_name"] for c in dataset["columns"]}
    for f in dashboard["metadata"]["native_filter_configuration"]:
        (target,) = f["targets"]
        own = datasets[target["datasetUuid"]]
        assert own is not dataset
        assert [c["column_name"] for c in own["columns"]] == [target["column"]["name"]]
        assert target["column"]["name"] in columns


def test_the_province_filter_opens_on_the_deployments_province(tmp_path):
    settings = _settings(tmp_path)
    filters = _files(superset.bundle(settings, "Hải Phòng"))[superset.DASHBOARD_FILE]["metadata"][
        "native_filter_configuration"
    ]
    (province,) = [f for f in filters if f["targets"][0]["column"]["name"] == "province_name"]
    assert province["defaultDataMask"]["filterState"]["value"] == ["Hải Phòng"]
    assert province["controlValues"]["defaultToFirstItem"] is False
    # every filter is required and opens on a value, so no chart waits for a click
    for f in filters:
        assert f["controlValues"]["enableEmptyFilter"] is True
        assert f["defaultDataMask"]["filterState"]["value"], f["name"]
    # the same deployment gives the same bytes
    assert superset.bundle(settings, "Hải Phòng") == superset.bundle(settings, "Hải Phòng")
