"""The lineage views in a real headless Chromium: a feature's timeline, reached from its page, and the page of
what changed between two checkpoints (skips when Chromium, chromedriver or selenium are missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rlsae.analysis.track import Lineage
from rlsae.browser import export_browser
from rlsae.browser.synthetic import synthetic_browser_data
from rlsae.browser.track_view import track_view


def _open(driver: Any, index: Path, hash_: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get(index.as_uri() + hash_)
    ready = "return document.body.getAttribute('data-ready') === '1'"
    WebDriverWait(driver, 5).until(lambda d: d.execute_script(ready))


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 5).until(lambda d: d.find_element(By.CSS_SELECTOR, css).text)


@pytest.fixture(scope="module")
def sites(planted_lineage: Lineage, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = synthetic_browser_data(40, frames_per_feature=2, seed=1)
    plain = export_browser(data, tmp_path_factory.mktemp("plain"))
    data.track = track_view(planted_lineage, 2)
    return export_browser(data, tmp_path_factory.mktemp("tracked")), plain


def test_a_feature_page_leads_to_its_timeline(chromium_driver: Any, sites: tuple[Path, Path]) -> None:
    from selenium.webdriver.common.by import By

    driver, (tracked, _) = chromium_driver, sites
    _open(driver, tracked, "#feature/36")
    _text(driver, "#view-feature .track-link a").strip()
    driver.find_element(By.CSS_SELECTOR, "#view-feature .track-link a").click()
    born = _text(driver, "#timeline-born")
    assert driver.execute_script("return location.hash") == "#timeline/36"
    assert born.startswith("Born at early; traced back through 2 checkpoints by decoder cosine")
    rows = driver.find_elements(By.CSS_SELECTOR, "#timeline-table tbody tr")
    assert [r.get_attribute("data-checkpoint") for r in rows] == ["early", "middle", "late"]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["#5", "#5", "#36"]
    assert "split from #5 of middle" in rows[2].text and "born" in rows[0].text
    assert [r.find_elements(By.TAG_NAME, "td")[4].text for r in rows] == ["fact 5", "fact 5", "none passes the rule"]
    present = driver.find_elements(By.CSS_SELECTOR, "#timeline-strip .stage.present")
    assert len(present) == 3
    # A feature born at the middle checkpoint: nothing before it.
    _open(driver, tracked, "#timeline/38")
    assert _text(driver, "#timeline-born").startswith("Born at middle; traced back through 1 checkpoint ")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#timeline-strip .stage.present")) == 2
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_the_learned_page_names_births_losses_and_splits(chromium_driver: Any, sites: tuple[Path, Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver, (tracked, _) = chromium_driver, sites
    _open(driver, tracked, "#summary")
    driver.find_element(By.CSS_SELECTOR, "header nav a[data-view=learned]").click()
    # By default: the checkpoint before the browsed one to the browsed one (middle -> late).
    assert _text(driver, "#learned-split").startswith("Split (1)")
    assert "#5 \u2192 #5, #36" in _text(driver, "#learned-split")
    changed = _text(driver, "#learned-changed")
    assert changed.startswith("Changed meaning (2)") and "#5 fact 5 \u2192 #5 fact 5 near a ghost" in changed
    Select(driver.find_element(By.ID, "learned-a")).select_by_visible_text("early")
    WebDriverWait(driver, 5).until(lambda d: d.execute_script("return location.hash") == "#learned?a=0&b=2")
    assert _text(driver, "#learned-born").startswith("Born (3)")
    born = driver.find_elements(By.CSS_SELECTOR, "#learned-born a.track-feature")
    assert [a.text for a in born] == ["#37", "#38", "#39"]  # the browsed checkpoint's features link to timelines
    assert _text(driver, "#learned-lost").startswith("Lost (4)") and "#36" in _text(driver, "#learned-lost")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#learned-steps tbody tr")) == 2
    born[0].click()
    assert _text(driver, "#timeline-born").startswith("Born at middle")
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_without_a_lineage_the_page_has_no_track_views(chromium_driver: Any, sites: tuple[Path, Path]) -> None:
    from selenium.webdriver.common.by import By

    driver, (_, plain) = chromium_driver, sites
    _open(driver, plain, "#feature/3")
    _text(driver, "#view-feature h1")
    assert not driver.find_elements(By.CSS_SELECTOR, ".track-link, header nav a[data-view=learned]")
    _open(driver, plain, "#timeline/3")
    assert "has no feature lineage" in _text(driver, "#view-timeline")
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
