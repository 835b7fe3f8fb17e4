"""A source API's address from its Airflow connection: https unless the connection says
otherwise, and no ':None' for a connection without a port."""

from __future__ import annotations

from chiso.sources.systems import ApiSettings, api_settings_of


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
