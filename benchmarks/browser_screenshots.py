"""Screenshots of the feature browser for docs/: the summary page at 1280x800 and a feature page.

    python benchmarks/browser_screenshots.py --interpret runs/demo/interpret   # a real run (e.g. `rlsae demo`)
    python benchmarks/browser_screenshots.py                                   # no run: the synthetic browser

Builds the browser into a temporary folder (``rlsae browse`` on ``--interpret``, else
:mod:`rlsae.browser.synthetic` with 512 features), opens it in headless Chromium (selenium + chromedriver)
and writes ``OUT/browser_summary.png`` and ``OUT/browser_feature.png``. The feature shown is the first
headline's, else the live feature with the best label F1.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from rlsae.browser import BrowserData, export_browser
from rlsae.common.errors import UserError


def _build(interpret: Path | None, out: Path) -> tuple[Path, int]:
    """The browser's index.html and the feature to show."""
    if interpret is None:
        from rlsae.browser.synthetic import synthetic_browser_data

        data: BrowserData = synthetic_browser_data(512, frames_per_feature=16, image="shared", seed=3)
    else:
        from rlsae.browser.build import BrowseConfig, build_browser_data

        data = build_browser_data(BrowseConfig(interpret=interpret, out=out, progress=False))
    if data.summary.headlines:
        feature = data.summary.headlines[0].feature
    else:
        feature = max((f for f in data.features if f.alive), key=lambda f: f.label_f1 or 0.0).id
    return export_browser(data, out), feature


def _driver(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        raise UserError("needs Chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-extensions",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _open(driver, url: str) -> None:
    driver.get(url)
    for _ in range(200):
        if driver.execute_script("return document.body.getAttribute('data-ready') === '1'"):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # let the frames' images decode before the picture is taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interpret", type=Path, default=None, help="interpret output folder (default: synthetic)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNG files")
    parser.add_argument("--size", type=int, nargs=2, default=(1280, 800), metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rlsae-browser-") as tmp:
        index, feature = _build(args.interpret, Path(tmp) / "browser")
        driver = _driver(*args.size)
        # the window's size includes the browser's frame: the page itself gets exactly --size
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": args.size[0], "height": args.size[1],
                                                                      "deviceScaleFactor": 1, "mobile": False})
        try:
            for name, route in (("browser_summary.png", "#summary"), ("browser_feature.png", f"#feature/{feature}")):
                _open(driver, index.as_uri() + route)
                driver.save_screenshot(str(args.out / name))
                print(f"wrote {args.out / name}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
