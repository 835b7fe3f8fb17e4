"""A source API's address from its Airflow connection: https unless the connection says
otherwise, and no ':None' for a connection without a port."""

from __future__ import annotations

import pytest

from chiso.sources.systems import ApiSettings, api_conn_id, api_settings_of, source_provinces


def test_a_connection_without_a_scheme_is_https() -> None:
    got = api_settings_of("motcua.tinh.example.vn", schema=None, port=None, password="t0k")
    assert got == ApiSettings("https://motcua.tinh.example.vn", "t0k")
    got = api_settings_of("motcua.tinh.example.vn", schema="", port=8443, password=None)
    assert got == ApiSettings("https://motcua.tinh.example.vn:8443", "")


def test_a_scheme_said_is_kept_in_the_schema_or_the_host() -> None:
    # the demo's simulator says http in the connection's schema
    got = api_settings_of("127.0.0.1", schema="http", port=8765, password="x")
    assert got.base_url == "http://127.0.0.1:8765"
    got = api_settings_of("https://dvc.example.vn/", schema=None, port=None, password="x")
    assert got.base_url == "https://dvc.example.vn"


def test_a_path_in_the_host_stays_after_the_port() -> None:
    # one gateway (or the simulator) serving each province's installation under its own path
    got = api_settings_of("127.0.0.1/provinces/31/", schema="http", port=8765, password="x")
    assert got.base_url == "http://127.0.0.1:8765/provinces/31"
    got = api_settings_of("https://gw.example.vn/tinh-31", schema=None, port=None, password="x")
    assert got.base_url == "https://gw.example.vn/tinh-31"


def test_each_province_of_a_national_deployment_has_its_connection() -> None:
    assert api_conn_id("one_stop") == "chiso_one_stop_api"
    assert api_conn_id("portal", "31") == "chiso_portal_api_31"


def test_the_provinces_pulled_are_read_in_order_without_repeats() -> None:
    assert source_provinces({}) == ()
    assert source_provinces({"CHISO_SOURCE_PROVINCES": " 31, 01,31,, 25 "}) == ("31", "01", "25")


def test_a_malformed_province_code_is_named() -> None:
    with pytest.raises(ValueError, match="'Hải Phòng' is not a two-digit province code"):
        source_provinces({"CHISO_SOURCE_PROVINCES": "01,Hải Phòng"})
