"""A planted lineage for the browser's track views (three checkpoints of 40 features whose births, losses and
split are known) and a headless Chromium to look at them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from rlsae.analysis.track import Lineage, trace_decoders

D_IN, D_SAE = 64, 40


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="session")
def planted_lineage() -> Lineage:
    """early -> middle: features 37-39 are replaced by new directions (3 born, 3 lost); middle -> late: feature 5
    splits into itself and feature 36 (whose old direction is lost), and both children change explanation."""
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((D_IN, D_IN)))[0].T
    early = basis[:D_SAE].copy()
    middle = early.copy()
    middle[37:40] = basis[D_SAE:D_SAE + 3]
    late = middle.copy()
    late[5] = _unit(early[5] + 0.6 * basis[50])
    late[36] = _unit(early[5] + 0.6 * basis[51])
    said: list[str | None] = [f"fact {i}" for i in range(D_SAE)]
    late_said = said.copy()
    late_said[5], late_said[36] = "fact 5 near a ghost", None  # the split changes what both children mean
    return trace_decoders(["early", "middle", "late"], [early, middle, late], explanations=[said, said, late_said])


@pytest.fixture(scope="module")
def chromium_driver() -> Iterator[Any]:
    """A headless Chromium through selenium; skips, saying why, when either is missing."""
    names = ("chromium", "chromium-browser", "google-chrome")
    chromium = next((p for name in names if (p := shutil.which(name))), None)
    chromedriver = shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install 'rlsae[test]')")
    if chromium is None or chromedriver is None:
        pytest.skip("needs Chromium + chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="rlsae-chromium-")
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-extensions", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_page_load_timeout(20)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)
