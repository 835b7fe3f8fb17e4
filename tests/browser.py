"""A real browser for the tests: the system's headless Chromium, driven by Selenium.

Chromium and its driver are the distribution's packages (`chromium`, `chromium-driver`),
installed here with apt-get when missing and the tests run as root (as CI does); nothing
downloads a browser build. Selenium is pointed at /usr/bin/chromedriver, so its own
driver manager never goes to the internet either.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.warehouses import file_lock

PACKAGES = ("chromium", "chromium-driver")


class BrowserMissing(RuntimeError):
    """Chromium is not installed and cannot be installed here."""


def _installed() -> tuple[Path, Path] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (Path(browser), Path(driver)) if browser and driver else None


def ensure_chromium() -> tuple[Path, Path]:
    """Chromium and chromedriver, installed from the distribution's packages when missing."""
    found = _installed()
    if found:
        return found
    if os.geteuid() != 0:
        raise BrowserMissing(
            "Chromium is missing: install it with `sudo apt-get install --no-install-recommends"
            f" {' '.join(PACKAGES)}` (the tests install it themselves when run as root)"
        )
    with file_lock("apt"):
        if not _installed():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
            ):
                subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=900)
    found = _installed()
    if not found:
        raise BrowserMissing(f"apt-get installed {PACKAGES} but chromium is still not on PATH")
    return found


@contextlib.contextmanager
def chromium(width: int = 1600, height: int = 1400) -> Iterator:
    """A headless Chromium session (selenium WebDriver) that records the network, so a test
    can read the responses the page drew from (`responses`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--window-size={width},{height}", "--lang=vi-VN", "--no-first-run",
        "--disable-extensions", "--disable-background-networking",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        yield driver
    finally:
        driver.quit()


def responses(driver, url_part: str) -> list[tuple[dict, dict]]:
    """The (request, JSON body) pairs of the responses so far whose URL contains `url_part`
    (from Chromium's performance log: read once, so call it after the page settled)."""
    import json

    requests: dict[str, dict] = {}
    done: list[str] = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            request = params["request"]
            if url_part in request["url"]:
                requests[params["requestId"]] = request
        elif message["method"] == "Network.loadingFinished" and params["requestId"] in requests:
            done.append(params["requestId"])
    out = []
    for request_id in done:
        body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        out.append((requests[request_id], json.loads(body["body"])))
    return out
