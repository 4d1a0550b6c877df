"""The exported page in a real headless Chromium: summary, search and filters, a feature page, back.

Runs on 2048 synthetic features (the size of the real SAE) and checks the page becomes interactive
(the time is printed, not asserted). Skips, saying why, when Chromium, chromedriver or selenium are missing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from rlsae.analysis.explain_summary import EXPLANATION_SCORES
from rlsae.analysis.labels import LABEL_SCORES, LabelScores
from rlsae.browser import export_browser
from rlsae.browser.synthetic import synthetic_browser_data
from rlsae.common.records import declared, described
from rlsae.sae.evaluation import Evaluation

N_FEATURES = 2048
BLUE, RED = "#1f6feb", "#d1242f"


def _find(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


CHROMIUM = _find("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _find("chromedriver")
try:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_SELENIUM = False

pytestmark = pytest.mark.skipif(
    not HAVE_SELENIUM or CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs selenium (pip install 'rlsae[test]') and Chromium + chromedriver on PATH "
           "(Debian: apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    data = synthetic_browser_data(N_FEATURES, frames_per_feature=16, image="shared", seed=3)
    index = export_browser(data, tmp_path_factory.mktemp("browser"))
    return data, index


@pytest.fixture(scope="module")
def driver(chromium_driver):  # one headless Chromium per module, started in tests/browser/conftest.py
    return chromium_driver


def wait(driver, condition, timeout: float = 5.0):
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))


def open_page(driver, index: Path, hash_: str = "") -> None:
    driver.get("about:blank")
    driver.get(index.as_uri() + hash_)
    wait(driver, lambda d: d.execute_script("return document.body.getAttribute('data-ready') === '1'"))


def list_ids(driver) -> list[int]:
    """Ids of the rendered list rows, read in one script call (rows are re-rendered on every change)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#list-rows a.row')).map(a => +a.dataset.id)")


def count_text(driver) -> str:
    return driver.find_element(By.ID, "list-count").text


def test_summary_renders_and_is_interactive(driver, site) -> None:
    data, index = site
    open_page(driver, index)
    ready_ms = driver.execute_script("return RLSAE.readyMs")
    loaded_ms = driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd")
    print(f"\n{N_FEATURES} features: interactive at {ready_ms:.0f} ms, load event at {loaded_ms:.0f} ms")
    assert ready_ms > 0  # the page reports when it became interactive (timings belong in benchmarks)
    assert driver.execute_script("return RLSAE.rows.length") == N_FEATURES
    assert len(driver.find_elements(By.CSS_SELECTOR, "#metrics tr")) == len(data.summary.metrics)
    assert "live features with a label" in driver.find_element(By.ID, "metrics").text
    # The fidelity table: every evaluation number by its name, its value with the unit and its meaning; no raw key.
    fidelity = driver.find_element(By.ID, "fidelity").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#fidelity tbody tr")) == len(data.summary.fidelity)
    for row in data.summary.fidelity:
        assert row.name in fidelity and row.meaning in fidelity
    assert "variance unexplained (FVU)" in fidelity and "% of the Q range" in fidelity
    assert "the SAE agent picks the same action as the clean agent in 94.0% of the states" in fidelity
    curves = driver.find_element(By.ID, "curves").text
    assert all(data.summary.curve_names[k] in curves for k in ("fvu", "l0", "dead_fraction"))
    shown = fidelity + driver.find_element(By.ID, "metrics").text + curves + driver.find_element(By.ID, "labels").text
    raw = [*Evaluation.__dataclass_fields__, *data.summary.metrics, *data.summary.curve_names]
    assert not [key for key in raw if "_" in key and key in shown]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#density svg rect.bar")) > 3
    assert len(driver.find_elements(By.CSS_SELECTOR, "#curves svg path.line")) == 3
    compared = driver.find_element(By.ID, "labels").text
    assert "neurons" in compared and "features" in compared
    for row in data.summary.label_comparison["features"]:  # each number by its record's name and shown value
        assert row.name in compared and row.shown in compared
    sweep = driver.find_element(By.ID, "sweep")
    assert "Spearman rho (score, live features) 0.02" in sweep.text and sweep.find_elements(By.TAG_NAME, "img")
    assert driver.execute_script("return RLSAE.summary.title") in driver.title
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_search_and_filters_narrow_the_list(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#features")
    assert count_text(driver) == f"{N_FEATURES} of {N_FEATURES} features"
    assert 0 < len(list_ids(driver)) < 100  # virtualised: only the visible rows exist

    search = driver.find_element(By.ID, "search")
    search.send_keys("ghost")
    expected = [f.id for f in data.features if "ghost" in _searchable(f, data.clusters)]
    wait(driver, lambda d: count_text(d) == f"{len(expected)} of {N_FEATURES} features")
    shown = list_ids(driver)
    assert shown and set(shown) <= set(expected)

    search.clear()
    search.send_keys("1234")
    wait(driver, lambda d: list_ids(d)[:1] == [1234])

    driver.find_element(By.ID, "f-reset").click()
    driver.find_element(By.CSS_SELECTOR, "#f-alive option[value=dead]").click()
    n_dead = sum(not f.alive for f in data.features)
    wait(driver, lambda d: count_text(d) == f"{n_dead} of {N_FEATURES} features")
    assert driver.execute_script("return Array.from(document.querySelectorAll('#list-rows a.row'))"
                                 ".every(a => a.classList.contains('dead'))")
    driver.find_element(By.ID, "f-reset").click()
    driver.find_element(By.ID, "f-dmin").send_keys("-1.5")
    n_dense = sum(f.density >= 10 ** -1.5 for f in data.features)
    wait(driver, lambda d: count_text(d) == f"{n_dense} of {N_FEATURES} features")


def test_feature_page_shows_frames_arrows_and_goes_back(driver, site) -> None:
    data, index = site
    feature = next(f for f in data.features if f.alive and f.steering is not None and f.label and f.id > 0)
    open_page(driver, index, "#features")
    driver.find_element(By.ID, "search").send_keys(str(feature.id))
    wait(driver, lambda d: list_ids(d)[:1] == [feature.id])
    start = time.perf_counter()
    driver.find_element(By.CSS_SELECTOR, f"#list-rows a.row[data-id='{feature.id}']").click()

    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#view-feature #frames img"))
    assert driver.current_url.endswith(f"#feature/{feature.id}")
    n_items = sum(len(g.items) for g in feature.frames)
    images = driver.find_elements(By.CSS_SELECTOR, "#frames img")
    assert len(images) == n_items
    wait(driver, lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('#frames img')).every(i => i.complete)"))
    widths = driver.execute_script(
        "return Array.from(document.querySelectorAll('#frames img')).map(i => i.naturalWidth)")
    assert min(widths) > 0
    print(f"\nfeature page with {n_items} frames rendered in {time.perf_counter() - start:.2f} s")
    assert [h.text.split(" (")[0].lower() for h in driver.find_elements(By.CSS_SELECTOR, "#frames h3")] == \
        [g.title.lower() for g in feature.frames]

    arrows = driver.find_elements(By.CSS_SELECTOR, "#effects svg.arrows path.arrow")
    names, advantage = data.summary.action_names, feature.advantage_effect
    directional = [i for i, name in enumerate(names) if name != "NOOP" and advantage[i] != 0]
    assert len(arrows) == len(directional) == 8
    for path in arrows:
        effect = advantage[names.index(path.get_attribute("data-action"))]
        assert path.get_attribute("stroke") == (BLUE if effect > 0 else RED)
    noop = driver.find_elements(By.CSS_SELECTOR, "#effects svg.arrows circle.noop")
    assert len(noop) == 1 and noop[0].get_attribute("stroke") == (BLUE if advantage[0] > 0 else RED)
    assert driver.find_element(By.CSS_SELECTOR, "#effects svg.arrows text.noop-label").text == "NOOP"
    # longest arrow belongs to the largest |advantage effect| among the directions
    lengths = {p.get_attribute("data-action"): p.size["width"] ** 2 + p.size["height"] ** 2 for p in arrows}
    assert max(lengths, key=lengths.get) == names[max(directional, key=lambda i: abs(advantage[i]))]

    assert feature.label in driver.find_element(By.CSS_SELECTOR, ".feature-head").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#facts tbody tr")) == len(feature.facts)
    assert "clamp" in driver.find_element(By.ID, "steering").text
    chips = driver.find_elements(By.CSS_SELECTOR, "#cluster .chips a")
    assert {int(c.text.lstrip("#")) for c in chips} == set(data.clusters[feature.cluster_id].members)

    driver.back()
    wait(driver, lambda d: d.find_element(By.ID, "view-features").is_displayed())
    assert driver.find_element(By.ID, "search").get_attribute("value") == str(feature.id)
    assert list_ids(driver)[:1] == [feature.id]
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_direct_links_and_missing_features(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#feature/7")
    wait(driver, lambda d: "Feature 7" in d.find_element(By.ID, "view-feature").text)
    driver.find_element(By.CSS_SELECTOR, ".feature-head a.next").click()
    wait(driver, lambda d: "Feature 8" in d.find_element(By.ID, "view-feature").text)
    open_page(driver, index, f"#feature/{N_FEATURES + 5}")
    wait(driver, lambda d: "no feature" in d.find_element(By.ID, "view-feature").text)
    open_page(driver, index, "#clusters")
    rows = driver.find_elements(By.CSS_SELECTOR, "#view-clusters tbody tr")
    assert len(rows) == len(data.clusters)
    rows[0].find_element(By.TAG_NAME, "a").click()
    wait(driver, lambda d: d.find_element(By.ID, "view-cluster").is_displayed())
    assert len(driver.find_elements(By.CSS_SELECTOR, "#view-cluster tbody tr")) == len(data.clusters[0].members)


def test_a_real_interpret_export_shows_recorded_frames_and_steering(driver, small_pipeline, tmp_path) -> None:
    from rlsae.analysis.results import load_result
    from rlsae.analysis.steer import SteerConfig, steer_features
    from rlsae.browser.build import BrowseConfig, browse

    feature = int(load_result(small_pipeline["interpret"]).max_activation.argmax())
    steer_features(small_pipeline["sae"], [feature],
                   SteerConfig(sae=small_pipeline["sae"], feature=feature, episodes=1, num_envs=1, max_steps=30,
                               gif_steps=4, out=tmp_path / "steer", progress=False))
    index, _ = browse(BrowseConfig(interpret=small_pipeline["interpret"], out=tmp_path / "web",
                                   steering=(tmp_path / "steer",), progress=False))
    open_page(driver, index, f"#feature/{feature}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#view-feature #frames img"))
    wait(driver, lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('#frames img')).every(i => i.complete)"))
    widths = driver.execute_script(
        "return Array.from(document.querySelectorAll('#frames img')).map(i => i.naturalWidth)")
    assert widths and set(widths) == {160}  # Atari screens, re-rendered from the recording
    stored = int((load_result(small_pipeline["interpret"]).example_states[feature] >= 0).sum())
    assert len(widths) == stored  # every example interpret kept is shown
    assert "clamp" in driver.find_element(By.ID, "steering").text
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_arrows_show_the_policy_and_the_value_shift_apart(driver, site) -> None:
    """A feature that lowers every Q-value still favours some actions: the arrows show which, in both colours."""
    data, index = site
    feature = next(f for f in data.features if f.alive and max(f.action_effect) < 0)
    open_page(driver, index, f"#feature/{feature.id}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#effects svg.arrows path.arrow"))
    strokes = {p.get_attribute("stroke") for p in driver.find_elements(By.CSS_SELECTOR, "#effects path.arrow")}
    assert strokes == {BLUE, RED}
    shift = driver.find_element(By.CSS_SELECTOR, "#effects .value-shift").text
    assert f"{feature.value_shift:+.3f}"[:5] in shift and "every action" in shift


def _searchable(f, clusters) -> str:
    words = [f"#{f.id}", f.label or "", f.explanation or "",
             *(fact.fact for top in f.facts for fact in [top, *top.variants]),
             clusters[f.cluster_id].name if f.cluster_id >= 0 else ""]
    return " ".join(words).lower().replace("_", " ")


def test_search_finds_fact_names_and_synonyms_and_lives_in_the_url(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#features")
    search = driver.find_element(By.ID, "search")
    search.send_keys("heading_to_power_pill")  # a fact name, not label text
    expected = [f.id for f in data.features if "heading to power pill" in _searchable(f, data.clusters)]
    assert any(not f.label or "heading" not in f.label for f in data.features if f.id in expected)
    wait(driver, lambda d: count_text(d) == f"{len(expected)} of {N_FEATURES} features")
    assert "q=heading_to_power_pill" in driver.current_url

    search.clear()
    search.send_keys("dying")  # no fact says "dying": it finds the "dead" ones
    group = ("dead", "dying", "death", "die", "killed", "life lost")
    dying = [f.id for f in data.features if any(w in _searchable(f, data.clusters) for w in group)]
    assert dying
    wait(driver, lambda d: count_text(d) == f"{len(dying)} of {N_FEATURES} features")

    open_page(driver, index, "#features?q=ghost&alive=alive")  # a shared link restores search and filters
    ghosts = [f.id for f in data.features if f.alive and "ghost" in _searchable(f, data.clusters)]
    wait(driver, lambda d: count_text(d) == f"{len(ghosts)} of {N_FEATURES} features")
    assert driver.find_element(By.ID, "search").get_attribute("value") == "ghost"
    assert driver.find_element(By.ID, "f-alive").get_attribute("value") == "alive"


def test_a_headline_links_to_its_feature_and_both_show_one_label(driver, site) -> None:
    data, index = site
    headline = data.summary.headlines[0]
    feature = next(f for f in data.features if f.id == headline.feature)
    open_page(driver, index, "#summary")
    item = driver.find_element(By.CSS_SELECTOR, "#headlines li")
    assert feature.label in item.text and "1114 held-out firings" in item.text.replace(",", "")
    item.find_element(By.CSS_SELECTOR, "a.headline-link").click()
    wait(driver, lambda d: f"Feature {feature.id}" in d.find_element(By.ID, "view-feature").text)
    assert feature.label in driver.find_element(By.CSS_SELECTOR, ".feature-head .label").text


def test_a_frame_enlarges_on_click_and_the_page_fits_760_px(driver, site) -> None:
    data, index = site
    feature = next(f for f in data.features if f.alive and f.frames)
    open_page(driver, index, f"#feature/{feature.id}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#frames img"))
    driver.find_element(By.CSS_SELECTOR, "#frames img").click()
    zoom = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#zoom img"))[0]
    wait(driver, lambda d: d.execute_script("return document.querySelector('#zoom img').complete"))
    assert zoom.size["width"] >= 2.5 * driver.find_element(By.CSS_SELECTOR, "#frames img").size["width"]
    assert f"Feature {feature.id}" in driver.find_element(By.ID, "zoom").text
    driver.find_element(By.CSS_SELECTOR, "#zoom button.close").click()
    wait(driver, lambda d: not d.find_elements(By.ID, "zoom"))
    driver.set_window_size(760, 1000)
    try:
        for hash_ in (f"#feature/{feature.id}", "#summary"):
            open_page(driver, index, hash_)
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (hash_, width)
    finally:
        driver.set_window_size(1400, 1000)


def test_the_map_opens_a_feature_on_click(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#summary")
    dots = driver.find_elements(By.CSS_SELECTOR, "#map svg circle")
    assert len(dots) == sum(f.alive for f in data.features)
    target = next(f for f in data.features if f.alive and f.id > 10)
    dot = driver.find_element(By.CSS_SELECTOR, f"#map svg circle[data-id='{target.id}']")
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", dot)
    wait(driver, lambda d: f"Feature {target.id}" in d.find_element(By.ID, "view-feature").text)


def test_a_clip_shows_the_steps_around_an_example_with_the_activation_curve(driver, site) -> None:
    from rlsae.browser.synthetic import player_position

    data, index = site
    feature = next(f for f in data.features if f.alive and f.frames)
    item = feature.frames[0].items[1]
    open_page(driver, index, f"#feature/{feature.id}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#frames .frame a"))
    driver.find_elements(By.CSS_SELECTOR, "#frames .frame a")[1].click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#zoom .strip .tile"))
    strip = driver.find_elements(By.CSS_SELECTOR, "#zoom .strip .tile img")
    assert len(strip) == len(item.clip.frames)
    wait(driver, lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('#zoom img')).every(i => i.complete && i.naturalWidth > 0)"))
    points = driver.find_elements(By.CSS_SELECTOR, "#zoom svg.sparkline circle.point")
    assert len(points) == len(item.clip.activations)
    heights = [float(p.get_attribute("cy")) for p in points]  # svg y grows downwards: the peak is lowest
    assert heights.index(min(heights)) == int(np.argmax(item.clip.activations)) == item.clip.centre
    caption = driver.find_element(By.CSS_SELECTOR, "#zoom figcaption").text
    assert "the example" in caption and f"{item.activation:.3g}" in caption
    ring = driver.find_element(By.CSS_SELECTOR, "#zoom .clip-frame circle.player")
    x, y = player_position(item.step)
    assert (float(ring.get_attribute("cx")), float(ring.get_attribute("cy"))) == pytest.approx((x, y))
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)  # one step on, in the clip
    wait(driver, lambda d: "+1 steps from the example" in d.find_element(By.CSS_SELECTOR, "#zoom figcaption").text)
    current = driver.find_element(By.CSS_SELECTOR, "#zoom .strip a.current")
    assert current.get_attribute("title") == "+1"
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait(driver, lambda d: not d.find_elements(By.ID, "zoom"))


def test_all_examples_show_with_marks_and_related_units_link(driver, site) -> None:
    data, index = site
    feature = next(f for f in data.features if f.alive and f.region is not None and f.related)
    open_page(driver, index, f"#feature/{feature.id}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#frames .tile"))
    n_items = sum(len(g.items) for g in feature.frames)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#frames .tile circle.player")) == n_items
    boxes = driver.find_elements(By.CSS_SELECTOR, "#frames .tile rect.region")
    assert len(boxes) == n_items and float(boxes[0].get_attribute("y")) == feature.region[1]
    assert "the player" in driver.find_element(By.CSS_SELECTOR, "#frames .legend").text
    related = feature.related["fires with (share of its firings)"]
    links = driver.find_elements(By.CSS_SELECTOR, "#related a[data-unit]")
    assert [int(a.get_attribute("data-unit")) for a in links] == [r.unit for r in related]
    assert driver.find_elements(By.CSS_SELECTOR, "#related .neuron")
    links[0].click()
    wait(driver, lambda d: f"Feature {related[0].unit}" in d.find_element(By.ID, "view-feature").text)


def test_dead_features_have_their_own_bar(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#summary")
    dead = sum(not f.alive for f in data.features)
    bar = driver.find_element(By.CSS_SELECTOR, "#density svg rect.bar.dead")
    assert bar.find_element(By.TAG_NAME, "title").get_attribute("textContent") == f"dead: {dead}"
    assert f"{dead} dead" in driver.find_element(By.ID, "density-note").text


def test_the_list_sorts_and_filters_by_label_measures(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#features?m=lift&mmin=20")
    lifted = [f.id for f in data.features if f.label_scores is not None and f.label_scores.lift >= 20]
    wait(driver, lambda d: count_text(d) == f"{len(lifted)} of {N_FEATURES} features")
    assert driver.find_element(By.ID, "f-metric").get_attribute("value") == "lift"
    # the list's label columns and the filter's measures are the record's fields, by their declared names
    head = [e.get_attribute("data-sort") for e in driver.find_elements(By.CSS_SELECTOR, "#list-head span")]
    assert [k for k in head if k in LABEL_SCORES] == list(LABEL_SCORES)
    options = driver.find_elements(By.CSS_SELECTOR, "#f-metric option")
    assert [o.get_attribute("value") for o in options] == list(LABEL_SCORES)
    assert [o.text for o in options] == [c["name"] for c in declared(LabelScores)]
    driver.find_element(By.CSS_SELECTOR, "#list-head span[data-sort=f1]").click()
    best = sorted((f for f in data.features if f.id in lifted), key=lambda f: (-f.label_scores.f1, f.id))
    wait(driver, lambda d: list_ids(d)[:3] == [f.id for f in best[:3]])


def test_a_feature_page_shows_its_explanation_or_says_unexplained(driver, site) -> None:
    data, index = site
    explained = next(f for f in data.features if f.explained)
    failing = next(f for f in data.features if f.alive and f.explanation and not f.explained)
    unsearched = next(f for f in data.features if f.alive and f.explanation is None)
    for feature, verdict, why in ((explained, "explained", "passes the rule"),
                                  (failing, "unexplained", "fails the rule"),
                                  (unsearched, "unexplained", "too few")):
        open_page(driver, index, f"#feature/{feature.id}")
        panel = wait(driver, lambda d: d.find_element(By.ID, "explanation"))
        text = panel.text
        assert panel.find_element(By.CSS_SELECTOR, ".verdict").text == verdict and why in text
        if feature.explanation is not None:
            assert feature.explanation in text
            # every held-out number by its record's name, with the meaning it declares; no raw field name
            for row in described(feature.explanation_scores):
                assert row.name in text and row.meaning in text, row.key
            assert not [key for key in EXPLANATION_SCORES if "_" in key and key in text]
    open_page(driver, index, f"#feature/{next(f for f in data.features if not f.alive).id}")
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#view-feature .feature-head"))
    assert not driver.find_elements(By.ID, "explanation")  # a dead feature has nothing to explain
    placed = next(f for f in data.features if f.place_field is not None)
    open_page(driver, index, f"#feature/{placed.id}")
    heat = wait(driver, lambda d: d.find_element(By.ID, "place-field"))
    assert len(heat.find_elements(By.CSS_SELECTOR, "svg rect")) == 16 * 16
    assert placed.place_field.score_name in heat.text
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_the_list_sorts_and_filters_by_explanation(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#features?x=explained")
    explained = [f for f in data.features if f.explained]
    wait(driver, lambda d: count_text(d) == f"{len(explained)} of {N_FEATURES} features")
    assert Select(driver.find_element(By.ID, "f-explained")).first_selected_option.get_attribute("value") == "explained"
    unexplained = [f for f in data.features if f.alive and not f.explained]
    Select(driver.find_element(By.ID, "f-explained")).select_by_value("unexplained")
    wait(driver, lambda d: count_text(d) == f"{len(unexplained)} of {N_FEATURES} features")
    assert "unexplained" in driver.find_element(By.ID, "list-rows").text
    open_page(driver, index, "#features?xmin=0.7")
    good = [f for f in data.features if f.explanation_scores is not None and f.explanation_scores.f1 >= 0.7]
    wait(driver, lambda d: count_text(d) == f"{len(good)} of {N_FEATURES} features")
    driver.find_element(By.CSS_SELECTOR, "#list-head span[data-sort=explanation_f1]").click()
    best = sorted(good, key=lambda f: (-f.explanation_scores.f1, f.id))
    wait(driver, lambda d: list_ids(d)[:3] == [f.id for f in best[:3]])
    assert best[0].explanation in driver.find_element(By.ID, "list-rows").text
    driver.find_element(By.ID, "search").send_keys(best[0].explanation.split()[0].replace("_", " "))
    wait(driver, lambda d: best[0].id in list_ids(d))  # the explanation's words are searched too


def test_the_summary_compares_explained_shares_by_name(driver, site) -> None:
    data, index = site
    open_page(driver, index)
    compared = driver.find_element(By.ID, "labels").text
    for kind in ("features", "neurons"):
        rows = {row.key: row for row in data.summary.label_comparison[kind]}
        for key in ("explained_fraction", "mean_f1"):
            assert rows[key].name in compared and rows[key].shown in compared
    assert len(driver.find_elements(By.CSS_SELECTOR, "#labels [data-share=explained_fraction]")) == 2
    assert data.summary.explain_rule in driver.find_element(By.ID, "explain-rule").text
    assert not [key for key in ("explained_fraction", "mean_f1", "n_explained") if key in compared]


# Every box that holds text or a table: its content must fit it (scrolling inside a box hides numbers too).
BOXES = ".panel, .card, .cards, .grid, table, #headlines li, .feature-head"
OVERFLOWING = """return Array.from(document.querySelectorAll(arguments[0]))
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.id || e.className || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth)
  .concat(document.documentElement.scrollWidth > window.innerWidth
          ? ['page ' + document.documentElement.scrollWidth] : [])"""


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_no_box_overflows_on_the_summary_and_a_feature_page(driver, site, size) -> None:
    data, index = site
    assert len(data.summary.fidelity) >= 15  # as long as a real run's table, meanings included
    feature = next(f for f in data.features if f.alive and f.steering and f.related)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
    try:
        for hash_ in ("#summary", f"#feature/{feature.id}"):
            open_page(driver, index, hash_)
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#view-summary #fidelity, #view-feature #frames"))
            assert driver.execute_script("return window.innerWidth") == size[0]
            assert driver.execute_script(OVERFLOWING, BOXES) == [], (hash_, size)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_one_headline_per_fact_and_its_label_said_once(driver, tmp_path) -> None:
    from dataclasses import replace

    data = synthetic_browser_data(64, frames_per_feature=2, image="shared", seed=1)
    first = data.summary.headlines[0]
    feature = next(f for f in data.features if f.id == first.feature)
    feature.label = "Pac-Man dies within 10 steps"
    said = replace(first, title="dying", description=feature.label)
    data.summary.headlines = [said, replace(said, title="dead"),
                              replace(said, title="other", fact="ghost_near", description="a ghost is near")]
    open_page(driver, export_browser(data, tmp_path / "web"), "#summary")
    items = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#headlines li")]
    assert len(items) == 2 and items[0].startswith("Best dying feature") and "Best other" in items[1]
    assert items[0].count(feature.label) == 1 and "83%" in items[0]
    assert items[1].count(feature.label) == 1 and "a ghost is near on 83%" in items[1]


def test_facts_are_ranked_by_f1_with_conjunctions_folded_until_opened(driver, site) -> None:
    data, index = site
    feature = next(f for f in data.features if f.alive and any(len(top.variants) >= 2 for top in f.facts))
    open_page(driver, index, f"#feature/{feature.id}")
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#facts tbody tr.fact"))
    assert [r.get_attribute("data-fact") for r in rows] == [f.fact for f in feature.facts]

    def best(top) -> float:
        return max((x.f1 for x in [top, *top.variants] if x.f1 is not None), default=-1.0)
    assert [best(top) for top in feature.facts] == sorted((best(top) for top in feature.facts), reverse=True)
    assert "F1" in driver.find_element(By.CSS_SELECTOR, "#facts thead").text
    at = next(i for i, top in enumerate(feature.facts) if len(top.variants) >= 2)
    variants = rows[at].find_elements(By.CSS_SELECTOR, "details.variants li")
    assert [v.get_attribute("data-fact") for v in variants] == [v.fact for v in feature.facts[at].variants]
    assert not any(v.is_displayed() for v in variants)  # folded
    rows[at].find_element(By.CSS_SELECTOR, "details.variants summary").click()
    assert all(v.is_displayed() for v in variants)


DOTS = ("return Array.from(document.querySelectorAll('#map svg circle'))"
        ".map(c => [+c.dataset.id, +c.getAttribute('cx'), +c.getAttribute('cy'), c.getAttribute('fill')])")


def test_the_map_draws_its_clusters_and_the_search_highlights_matches(driver, site) -> None:
    data, index = site
    open_page(driver, index, "#summary")
    dots = driver.execute_script(DOTS)
    assert len(dots) == sum(f.alive for f in data.features)
    assert driver.find_element(By.ID, "map-colour").get_attribute("value") == "fact"  # labels exist: the default
    Select(driver.find_element(By.ID, "map-colour")).select_by_value("cluster")
    dots = driver.execute_script(DOTS)
    by_id = {f.id: f for f in data.features}
    colours = {}
    for fid, *_, fill in dots:
        colours.setdefault(by_id[fid].cluster_id, set()).add(fill)
    assert len(colours) > 3 and all(len(c) == 1 for c in colours.values())  # one colour per cluster
    assert len({c.pop() for c in colours.values()}) == len(colours)
    xs, ys = [d[1] for d in dots], [d[2] for d in dots]
    assert max(xs) - min(xs) > 300 and max(ys) - min(ys) > 200  # spread over the panel, not a dot

    search = driver.find_element(By.ID, "map-search")
    target = next(f for f in data.features if f.alive and f.id > 100)
    search.send_keys(str(target.id))
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#map svg circle.match"))
    matched = {int(c.get_attribute("data-id")) for c in driver.find_elements(By.CSS_SELECTOR, "#map svg circle.match")}
    assert target.id in matched and len(matched) < len(dots) / 4
    search.clear()
    search.send_keys("fruit")
    fruit = {f.id for f in data.features if f.alive and "fruit" in _searchable(f, data.clusters)}
    assert 0 < len(fruit) < len(dots)
    wait(driver, lambda d: {int(c.get_attribute("data-id"))
                            for c in d.find_elements(By.CSS_SELECTOR, "#map svg circle.match")} == fruit)
    assert driver.find_element(By.ID, "map-count").text == f"{len(fruit)} of {len(dots)} match"
    big, small = (driver.execute_script("return getComputedStyle(document.querySelector(arguments[0])).r", sel)
                  for sel in ("#map svg circle.match", "#map svg circle:not(.match)"))
    assert float(big.rstrip("px")) > float(small.rstrip("px"))

    Select(driver.find_element(By.ID, "map-colour")).select_by_value("fact")
    fills = {int(c.get_attribute("data-id")): c.get_attribute("fill")
             for c in driver.find_elements(By.CSS_SELECTOR, "#map svg circle")}
    family = {f.id: f.facts[0].fact.split("=")[0] for f in data.features if f.alive and f.label}
    names = sorted(set(family.values()), key=lambda name: (-list(family.values()).count(name), name))
    shown, grey = names[:10], "#9aa1ab"  # the ten commonest best facts get a colour each
    colours = [{fills[i] for i, fam in family.items() if fam == name} for name in shown]
    assert all(len(c) == 1 for c in colours)
    assert len(set.union(*colours)) == len(shown) and grey not in set.union(*colours)
    assert {fills[i] for i, fam in family.items() if fam not in shown} == {grey}
    assert {fills[f.id] for f in data.features if f.alive and not f.label} == {grey}
    legend = driver.find_element(By.ID, "map-legend").text
    assert all(name.replace("_", " ") in legend for name in shown)


def test_a_feature_page_says_whether_another_seed_finds_it_again_and_the_list_sorts_by_it(driver, site) -> None:
    data, index = site
    live = [f for f in data.features if f.other_seed is not None]
    found = next(f for f in live if f.other_seed.found)
    lost = next(f for f in live if not f.other_seed.found)
    open_page(driver, index, f"#feature/{found.id}")
    text = wait(driver, lambda d: d.find_element(By.ID, "other-seed")).text
    assert (f"Found again in the other seed\u2019s SAE: feature #{found.other_seed.nearest}, decoder cosine "
            f"{found.other_seed.cosine:.2f}.") in text
    open_page(driver, index, f"#feature/{lost.id}")
    text = wait(driver, lambda d: d.find_element(By.ID, "other-seed")).text
    assert f"Not found again in the other seed\u2019s SAE (nearest cosine {lost.other_seed.cosine:.2f} < 0.9" in text
    open_page(driver, index, "#features")
    driver.find_element(By.CSS_SELECTOR, "#list-head span[data-sort=found_cosine]").click()
    best = sorted(live, key=lambda f: (-f.other_seed.cosine, f.id))
    wait(driver, lambda d: list_ids(d)[:3] == [f.id for f in best[:3]])
    open_page(driver, index, "#summary")
    panel = driver.find_element(By.ID, "found-again").text
    shown = {r.key: r for r in data.summary.found_again}
    assert f"{shown['found_fraction'].shown} of the live features ({shown['n_found'].shown} of" in panel
    assert all(r.name in panel and r.meaning in panel for r in data.summary.found_again)
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_none_found_again_is_said_plainly_and_without_another_seed_nothing_is_shown(driver, tmp_path) -> None:
    from rlsae.analysis.seed_match import FoundAgain
    from rlsae.browser.data import OtherSeed

    data = synthetic_browser_data(64, frames_per_feature=2, image="shared", seed=1)
    live = [f for f in data.features if f.other_seed is not None]
    for f in live:
        f.other_seed = OtherSeed(f.other_seed.nearest, 0.23, False)
    data.summary.found_again = described(FoundAgain("other", 0.9, len(live), 0, 0.0, 0.0, 0.23))
    open_page(driver, export_browser(data, tmp_path / "none"), "#summary")
    assert driver.find_element(By.ID, "found-lead").text == (
        f"None of the {len(live)} live features is found again: no feature of the other seed\u2019s SAE has a decoder "
        "cosine of 0.9 or more with any of them (median nearest cosine 0.23).")
    open_page(driver, tmp_path / "none" / "index.html", f"#feature/{live[0].id}")
    assert "nearest cosine 0.23 < 0.9" in wait(driver, lambda d: d.find_element(By.ID, "other-seed")).text

    plain = synthetic_browser_data(64, frames_per_feature=2, image="shared", seed=1, other_seed=False)
    index = export_browser(plain, tmp_path / "plain")
    open_page(driver, index, "#summary")
    assert not driver.find_elements(By.ID, "found-again")
    open_page(driver, index, f"#feature/{live[0].id}")
    wait(driver, lambda d: d.find_element(By.ID, "explanation"))
    assert not driver.find_elements(By.ID, "other-seed")
    open_page(driver, index, "#features")
    assert not driver.find_elements(By.CSS_SELECTOR, "#list-head span[data-sort=found_cosine]")
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
