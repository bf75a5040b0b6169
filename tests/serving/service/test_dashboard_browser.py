"""The dashboard in a real browser (headless Chromium through Selenium) against a real server:
a page without a session goes to the login; after it, every page draws its charts (SVG
elements present) with no console error; the tariff form starts an optimisation whose result
page appears by itself; signing out ends the session. Screenshots go to DASHBOARD_SCREENSHOTS
(the README's come from there) or the test's folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.serving.service.server import Server, setup_folder, write_job_configs

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev dependency")
CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None, reason=(
        "headless Chromium is not installed (as root: apt-get install chromium chromium-driver)")),
]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    folders = write_job_configs(root)
    config, keys = setup_folder(root / "svc", extra=folders)
    s = Server(root / "svc", config, keys).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,2000"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _no_console_errors(driver) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def _count(driver, css: str) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, css))


def test_a_page_without_a_session_goes_to_the_login(site, browser):
    browser.delete_all_cookies()
    browser.get(f"{site.url}/dashboard/models")
    assert browser.current_url.endswith("/login")
    _no_console_errors(browser)


def test_the_pages_draw_their_charts_after_signing_in(site, browser, shots):
    from selenium.webdriver.common.by import By

    browser.get(f"{site.url}/login")
    browser.find_element(By.NAME, "key").send_keys(site.keys["planner"])
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    # the click returns when the form is sent; the answer's page may come a little later
    WebDriverWait(browser, 20, poll_frequency=0.1).until(
        lambda d: d.current_url.endswith("/dashboard")
    )
    assert "Overview" in browser.title
    cookie = browser.get_cookie("mf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.get(f"{site.url}/dashboard/models")
    assert _count(browser, "table.registry tbody tr") == 1
    browser.save_screenshot(str(shots / "dashboard_models.png"))
    _no_console_errors(browser)
    browser.get(f"{site.url}/dashboard/customer?customer_id=H0003&bundle=household")
    assert _count(browser, "svg.fan") == 2  # the forecast and the imputed profile
    assert (
        _count(browser, "svg.fan path.band") == 2 and _count(browser, "svg.fan path.history") == 1
    )
    assert _count(browser, "table.bills tbody tr") == 2  # the server's two tariffs
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.bills td")]
    assert cells[1].endswith("GBP") and float(cells[1].split()[0].replace(",", "")) > 0  # flat
    assert "give usage at 30min or finer" in cells[5]  # the demand tariff needs half-hours
    assert not browser.find_elements(By.CSS_SELECTOR, "p.error")
    browser.save_screenshot(str(shots / "dashboard_customer.png"))
    _no_console_errors(browser)


def test_the_form_starts_a_run_and_its_result_appears(site, browser, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site.url}/dashboard/tariffs")
    peak = browser.find_element(By.NAME, "w_peak")
    peak.clear()
    peak.send_keys("10")
    frontier = browser.find_element(By.NAME, "frontier")
    frontier.clear()
    frontier.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "form.run button").click()
    assert "/dashboard/jobs/" in browser.current_url
    WebDriverWait(browser, 240, poll_frequency=0.5).until(
        lambda d: "/dashboard/tariffs/" in d.current_url
    )
    assert _count(browser, "svg.scatter circle.point") >= 2  # the frontier's points
    assert _count(browser, "table.kpis tbody tr") >= 2  # base and the scenarios
    assert _count(browser, "svg.histogram") >= 3  # all customers, then each group
    assert _count(browser, "svg.lines path.series") == 2  # load shape before and after
    browser.save_screenshot(str(shots / "dashboard_tariff_run.png"))
    _no_console_errors(browser)
    browser.get(f"{site.url}/dashboard/tariffs")
    assert "done" in [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.jobs td.status")
    ]
    browser.save_screenshot(str(shots / "dashboard_tariffs.png"))
    _no_console_errors(browser)


def test_signing_out_ends_the_session(site, browser):
    browser.get(f"{site.url}/logout")
    browser.get(f"{site.url}/dashboard")
    assert browser.current_url.endswith("/login")
