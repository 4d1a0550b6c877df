"""The steering benchmark's panels on the summary page, in a real headless Chromium (skips like the other
Chromium tests when it, chromedriver or selenium are missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsae.analysis.steer_bench import PICTURE, RESULTS, picture
from rlsae.analysis.steer_bench_results import SteerBenchRun
from rlsae.browser import export_browser
from rlsae.browser.build import read_steer_bench, write_steer_bench
from rlsae.browser.synthetic import synthetic_browser_data
from rlsae.common.errors import UserError

chromium = pytest.importorskip("tests.browser.test_browser_chromium", reason="the Chromium test helpers")
pytestmark = chromium.pytestmark
driver = chromium.driver


def test_each_goal_gets_a_panel_with_every_handle(driver, steer_bench_record: SteerBenchRun, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    index = export_browser(synthetic_browser_data(16, frames_per_feature=2, seed=1), tmp_path / "web")
    chromium.open_page(driver, index)
    assert not driver.find_elements(By.ID, "steer-bench")  # built without a benchmark: no panel
    bench = tmp_path / "bench"
    bench.mkdir()
    steer_bench_record.save(bench / RESULTS)
    picture(steer_bench_record, bench / PICTURE)
    write_steer_bench(read_steer_bench(bench), bench, tmp_path / "web")
    chromium.open_page(driver, index)
    panel = chromium.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#bench-eat_pill_top_left"))[0]
    rows = panel.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows][:2] == ["best feature #7", "best neuron 3"]
    assert len(rows) == 7 and "100%*" in rows[0].text and "beats the best neuron and every control" in panel.text
    assert driver.execute_script("return document.querySelector('#steer-bench img').naturalWidth") > 100
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    with pytest.raises(UserError, match="no steer_bench.json there"):
        read_steer_bench(tmp_path)
