"""The exporter writes a complete, self-contained folder whose data files parse and hold every feature."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rlsae.browser import (
    AgentInfo,
    BrowserData,
    Cluster,
    Feature,
    FrameGroup,
    FrameItem,
    OtherSeed,
    PlaceField,
    RunSummary,
    SAEInfo,
    export_browser,
)
from rlsae.browser.synthetic import synthetic_browser_data
from rlsae.common.errors import UserError

CALL = re.compile(r"^RLSAE\.(\w+)\((.*)\);\s*$", re.DOTALL)


def read_js(path: Path) -> tuple[str, object]:
    """(function name, payload) of a data file ``RLSAE.fn({...});``."""
    match = CALL.match(path.read_text())
    assert match, f"{path} is not a data call"
    return match.group(1), json.loads(match.group(2))


def tiny_png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 5, 3), color, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def small_data(**feature_overrides) -> BrowserData:
    summary = RunSummary("tiny", AgentInfo("ms_pacman", 100), SAEInfo(4, 2, 1, "topk"), {"fvu": float("nan")})
    features = [Feature(i, True, 0.5, 1.0, [0.1 * (i + 1)] * 9, **feature_overrides) for i in range(2)]
    return BrowserData(summary, features, [Cluster(0, "both", [0, 1])])


def frame_src(table: dict, frame: int) -> str:
    """The image file of frame number ``frame`` in data/frames.js."""
    return table["sheets"][table["frames"][frame][0]]


def test_export_writes_every_feature_and_parseable_data(tmp_path: Path) -> None:
    data = synthetic_browser_data(64, frames_per_feature=4, seed=1)
    index = export_browser(data, tmp_path / "out")
    out = index.parent
    assert index.name == "index.html" and "tiny" not in index.read_text()
    html = index.read_text()
    for src in re.findall(r'(?:src|href)="([^"#]+)"', html):
        assert (out / src).is_file(), f"index.html refers to missing {src}"

    name, summary = read_js(out / "data" / "summary.js")
    assert name == "setSummary" and summary["n_features"] == 64
    assert summary["action_names"][0] == "NOOP" and len(summary["density_log10"]) == 64
    assert {c["id"] for c in summary["clusters"]} == {c.id for c in data.clusters}
    name, table = read_js(out / "data" / "features.js")
    assert name == "setFeatures"
    rows = [dict(zip(table["columns"], row)) for row in table["rows"]]
    assert [r["id"] for r in rows] == list(range(64))
    # the other seed's match: the list's cosine column, each page's match, the summary's numbers by name
    assert summary["found_threshold"] == 0.9 and [r["key"] for r in summary["found_again"]][:3] == [
        "threshold", "n_live", "n_found"]
    for r, f in zip(rows, data.features):
        assert r["found_cosine"] == (None if f.other_seed is None else pytest.approx(f.other_seed.cosine, rel=1e-4))

    _, table = read_js(out / "data" / "frames.js")
    n_frames = 0
    for feature in data.features:
        name, detail = read_js(out / "data" / "f" / f"{feature.id}.js")
        assert name == "receiveFeature" and detail["id"] == feature.id
        assert detail["alive"] == feature.alive and detail["label"] == feature.label
        seed = feature.other_seed
        assert (detail["other_seed"] is None) == (seed is None) == (not feature.alive)
        if seed is not None:
            assert (detail["other_seed"]["nearest"], detail["other_seed"]["found"]) == (seed.nearest, seed.found)
        np.testing.assert_allclose(detail["action_effect"], feature.action_effect, rtol=1e-5)
        assert [g["title"] for g in detail["frames"]] == [g.title for g in feature.frames]
        for group, given in zip(detail["frames"], feature.frames):
            for item, shown in zip(group["items"], given.items):
                assert (out / frame_src(table, item["frame"])).read_bytes()[:4] == b"\x89PNG"
                clip = item["clip"]  # the clip: its frames (the centre is the item's), activations and places
                assert len(clip["frames"]) == len(shown.clip.frames) and clip["frames"][clip["centre"]] == item["frame"]
                np.testing.assert_allclose(clip["activations"], shown.clip.activations, rtol=1e-5)
                np.testing.assert_allclose([table["frames"][k][3:] for k in clip["frames"]], shown.clip.positions)
                n_frames += 1
        if feature.steering is not None:
            assert detail["steering"]["mode"] == "clamp" and (out / detail["steering"]["heatmap"]).is_file()
    assert n_frames == sum(len(g.items) for f in data.features for g in f.frames) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_features"] == 64 and manifest["images_written"] == len(list((out / "frames").iterdir()))


def test_images_from_bytes_arrays_and_paths_are_stored_once(tmp_path: Path) -> None:
    red, blue = tiny_png((255, 0, 0)), tiny_png((0, 0, 255))
    on_disk = tmp_path / "blue.png"
    on_disk.write_bytes(blue)
    array = np.zeros((7, 3, 3), np.uint8)
    items = [FrameItem(red, 1.0, 0), FrameItem(red, 0.9, 1), FrameItem(on_disk, 0.5, 2), FrameItem(blue, 0.4, 3),
             FrameItem(array, 0.3, 4), FrameItem(array.copy(), 0.2, 5)]
    data = small_data(frames=[FrameGroup("top activations", items)])
    out = export_browser(data, tmp_path / "out").parent
    _, detail = read_js(out / "data" / "f" / "0.js")
    _, table = read_js(out / "data" / "frames.js")
    srcs = [frame_src(table, item["frame"]) for item in detail["frames"][0]["items"]]
    assert srcs[0] == srcs[1] and srcs[2] == srcs[3] and srcs[4] == srcs[5]
    assert len(set(srcs)) == 3 == len(list((out / "frames").iterdir()))
    assert Image.open(out / srcs[4]).size == (3, 7)
    _, summary = read_js(out / "data" / "summary.js")
    assert summary["metrics"]["fvu"] is None  # NaN becomes null, not invalid JSON


def test_reexport_into_the_same_folder_works(tmp_path: Path) -> None:
    data = small_data()
    export_browser(data, tmp_path)
    data.features[1].label = "renamed"
    export_browser(data, tmp_path)
    _, detail = read_js(tmp_path / "data" / "f" / "1.js")
    assert detail["label"] == "renamed" and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.features[0].action_effect.pop(), "action_effect has 8 values"),
    (lambda d: setattr(d.features[1], "id", 0), "not unique"),
    (lambda d: setattr(d.features[0], "cluster_id", 7), "cluster_id 7"),
    (lambda d: d.clusters[0].members.append(99), "unknown feature ids [99]"),
    (lambda d: d.features[0].frames.append(FrameGroup("x", [FrameItem(b"nope", 1.0, 0)])), "not a PNG"),
    (lambda d: d.features[0].frames.append(FrameGroup("x", [FrameItem(Path("/no/such.png"), 1.0, 0)])),
     "cannot read /no/such.png"),
    (lambda d: setattr(d.features[0], "place_field", PlaceField([[1.0, 2.0], [3.0]])), "place_field.values"),
    (lambda d: setattr(d.features[0], "other_seed", OtherSeed(3, 0.95, True)), "summary.found_threshold is not"),
    (lambda d: (setattr(d.summary, "found_threshold", 0.9),
                setattr(d.features[0], "other_seed", OtherSeed(3, 0.5, True))),
     "other_seed.found disagrees"),
])
def test_bad_data_is_a_user_error_naming_the_problem(tmp_path: Path, change, message: str) -> None:
    data = small_data()
    change(data)
    with pytest.raises(UserError, match=re.escape(message)):
        export_browser(data, tmp_path)
