"""The analysts' page in a real headless browser (Debian's chromium, driven by Playwright; never
Playwright's own browser download), against the real pipeline, delivery worker, Kafka and
OpenSearch: sign in, subscribe through the form, see the alert arrive live and acknowledge it,
find the event with the search box and see its marker on the map. Screenshots go to
var/test-artifacts/page/ (not committed)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from newswatch.connectors import kafka

from .conftest import REPO_DIR, news_item, wait_for
from .test_api import start_api, stop_api
from .test_delivery import Worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = REPO_DIR / "var" / "test-artifacts" / "page"
STRIKE_AR = "شنت الطائرات الحربية فجر اليوم غارات على مواقع المسلحين قرب مدينة إدلب."
CALM_EN = "The weather in the capital was calm and the markets opened as usual."


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium: run ./setup.sh (it runs "
                    "`apt-get install chromium`); the page test needs a real browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: run ./setup.sh (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_api(settings):
    api = start_api(settings, warm_up=True)  # warm_up: the place type-ahead's gazetteer loads meanwhile
    yield api
    stop_api(api)


@pytest.fixture
def delivery_worker(settings, tmp_path):
    worker = Worker(settings, tmp_path / "worker.log").start()
    yield worker
    worker.kill()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_an_analyst_subscribes_sees_the_alert_live_acknowledges_it_and_finds_it_on_the_map(
        settings, pipeline, delivery_worker, page_api, browser):
    shutil.rmtree(SHOTS, ignore_errors=True)
    proc = pipeline()
    kafka.produce(settings.kafka, [news_item("warmup", CALM_EN)])  # the pipeline is up once this is indexed
    backend = page_api.state.backend
    wait_for(lambda: backend.get(settings.search.articles_index, "item-warmup"), 240, "the pipeline to start", proc)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))

    # 1. sign in
    page.goto(page_api.url + "/")
    page.fill("#token", page_api.tokens["ana"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    assert page.inner_text("#who") == "ana"
    _shot(page, "1-signed-in")

    # 2. a subscription through the form: offensives at Idlib, the place picked from the type-ahead
    page.click("[data-tab=subscriptions]")
    page.click("#new-sub")
    page.fill("#sub-name", "Air strikes around Idlib")
    page.check("#sub-types input[value=offensive]")
    page.type("#sub-places-input", "إدل", delay=80)
    page.click("#sub-places .suggestions li:has-text('Idlib')", timeout=60_000)
    assert page.inner_text("#sub-places .chip").startswith("Idlib")
    page.click("#sub-test")
    page.wait_for_selector("#test-results:not([hidden])")
    assert "would have alerted nothing" in page.inner_text("#test-title")
    _shot(page, "2-subscription-form")
    page.click("#sub-save")
    page.wait_for_selector("#sub-table tbody tr:has-text('Air strikes around Idlib')")
    saved = page_api("GET", "/api/subscriptions").body
    assert [(s["name"], s["types"], s["places"]) for s in saved] == [("Air strikes around Idlib", ["offensive"], ["Idlib"])]

    # 3. a matching news item into Kafka; 4. the alert in the live feed within seconds, then acknowledged
    page.click("[data-tab=alerts]")
    page.wait_for_selector("#feed-status.good")
    sent = time.monotonic()
    kafka.produce(settings.kafka, [news_item("page", STRIKE_AR)])
    item = page.wait_for_selector("#alert-feed li.alert.new", timeout=90_000)
    latency = time.monotonic() - sent
    print(f"alert shown in the page's live feed {latency:.1f}s after the news item was produced")
    assert latency < 30
    assert "Air strikes around Idlib" in item.inner_text() and item.query_selector("mark").inner_text() == "غارات"
    assert item.query_selector(".sentence").get_attribute("dir") == "auto"
    _shot(page, "3-live-alert")
    item.query_selector("button.ack").click()
    page.wait_for_selector("#alert-feed li.alert.new", state="detached")
    page.check("#show-acked")
    done = page.query_selector("#alert-feed li.alert.acknowledged")
    assert done.query_selector(".state").text_content() == "acknowledged" and "by ana" in done.inner_text()
    acked = page_api("GET", "/api/alerts?state=acknowledged").body
    assert acked["count"] == 1 and acked["alerts"][0]["acknowledged_by"] == "ana"
    _shot(page, "4-acknowledged")

    # 5. the event through the search box; 6. its marker on the map
    page.click("[data-tab=search]")
    page.fill("#q", "غارات")
    page.click("#search-go")
    row = page.wait_for_selector("#results tbody tr[data-event-id^='item-page:']")
    event_id = row.get_attribute("data-event-id")
    assert row.query_selector("mark").inner_text() == "غارات" and "Idlib" in row.inner_text()
    assert row.query_selector("a").get_attribute("href") == "https://news.example.invalid/page"
    assert page.query_selector_all("#map-svg path.country")  # outlines drawn from the package, no tiles
    marker = page.wait_for_selector(f"#map-svg circle.marker[data-event-ids~='{event_id}']")
    box, frame = marker.bounding_box(), page.query_selector("#map-svg").bounding_box()
    assert frame["x"] < box["x"] < frame["x"] + frame["width"] and frame["y"] < box["y"] < frame["y"] + frame["height"]
    marker.click()
    assert "selected" in row.get_attribute("class")
    _shot(page, "5-search-and-map")
    assert problems == [], problems
