"""The browser's lineage views (`rlsae browse --track`): the data on a planted lineage, how the browsed SAE is
found in it, and the export end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlsae.analysis.track import Lineage, trace_decoders
from rlsae.browser import export_browser
from rlsae.browser.build import BrowseConfig, browse
from rlsae.browser.synthetic import synthetic_browser_data
from rlsae.browser.track_view import checkpoint_of, track_view
from rlsae.cli import main
from rlsae.common.errors import UserError
from rlsae.sae.io import load_sae


def test_timelines_and_changes_between_checkpoints(planted_lineage: Lineage) -> None:
    view = track_view(planted_lineage, 2)
    assert view["checkpoints"] == ["early", "middle", "late"] and view["current"] == 2
    assert len(view["timelines"]) == 40
    # A replaced feature is born at the middle checkpoint and traced from there (cosine 1 with itself).
    born = view["timelines"][37]
    assert [s[0] for s in born] == [1, 2] and born[0][2] is None and born[1][2] == pytest.approx(1.0)
    # A feature that lives throughout: three stages, itself at each.
    assert [s[:2] for s in view["timelines"][0]] == [[0, 0], [1, 0], [2, 0]]
    # The split: both children name feature 5 of the middle checkpoint at the last stage.
    assert view["timelines"][5][-1][3] == 5 and view["timelines"][36][-1][3] == 5
    assert [s[:2] for s in view["timelines"][36]] == [[0, 5], [1, 5], [2, 36]]
    first_last = view["between"]["0-2"]
    assert first_last["born"] == [37, 38, 39] and first_last["lost"] == [36, 37, 38, 39]
    assert first_last["split"] == [[5, [5, 36]]] and first_last["merged"] == []
    assert view["between"]["1-2"]["born"] == [] and set(view["between"]) == {"0-1", "0-2", "1-2"}
    assert [(s["born"], s["lost"], s["split"]) for s in view["steps"]] == [(3, 3, 0), (0, 1, 1)]
    # Each stage carries the feature's explanation then; the split changed both children's meaning.
    assert [s[5] for s in view["timelines"][36]] == ["fact 5", "fact 5", None] and view["explained"]
    assert view["between"]["1-2"]["changed"] == [[5, 5, "fact 5", "fact 5 near a ghost"], [5, 36, "fact 5", None]]
    assert view["between"]["0-1"]["changed"] == []


def test_the_browsed_sae_is_found_by_its_folder_name(planted_lineage: Lineage) -> None:
    assert checkpoint_of(planted_lineage, Path("saes/middle"), 40, "t.json") == 1
    assert checkpoint_of(planted_lineage, Path("sweep/late/talk/sae"), 40, "t.json") == 2
    with pytest.raises(UserError, match="none of its checkpoints \\(early, middle, late\\) is this SAE's folder"):
        checkpoint_of(planted_lineage, Path("saes/other"), 40, "t.json")
    with pytest.raises(UserError, match="has 40 features, this SAE 64"):
        checkpoint_of(planted_lineage, Path("saes/late"), 64, "t.json")


def test_the_export_carries_the_lineage_only_when_given(planted_lineage: Lineage, tmp_path: Path) -> None:
    data = synthetic_browser_data(40, frames_per_feature=2)
    plain = export_browser(data, tmp_path / "plain").parent
    assert not (plain / "data" / "track.js").exists() and '"track":null' in (plain / "data" / "summary.js").read_text()
    data.track = track_view(planted_lineage, 2)
    out = export_browser(data, tmp_path / "tracked").parent
    script = (out / "data" / "track.js").read_text()
    assert script.startswith("RLSAE.setTrack(")
    assert '"track":"data/track.js"' in (out / "data" / "summary.js").read_text()
    assert json.loads(script[len("RLSAE.setTrack("):script.rindex(")")])["between"]["0-2"]["born"] == [37, 38, 39]
    assert (out / "assets" / "track.js").is_file() and "assets/track.js" in (out / "index.html").read_text()


def test_browse_with_track(small_pipeline: dict[str, Path], tmp_path: Path) -> None:
    decoder = load_sae(small_pipeline["sae"]).W_dec.detach()
    earlier = decoder.clone()
    earlier[:10] = torch.randn(10, decoder.shape[1], generator=torch.Generator().manual_seed(0))
    trace_decoders(["earlier", small_pipeline["sae"].name], [earlier, decoder]).save(tmp_path / "track.json")
    assert main(["browse", "--interpret", str(small_pipeline["interpret"]), "--out", str(tmp_path / "web"),
                 "--track", str(tmp_path / "track.json"), "--top-frames", "1", "--quantile-frames", "0",
                 "--no-progress"]) == 0
    script = (tmp_path / "web" / "data" / "track.js").read_text()
    view = json.loads(script[len("RLSAE.setTrack("):script.rindex(")")])
    assert len(view["timelines"]) == 64 and view["between"]["0-1"]["born"] == list(range(10))
    trace_decoders(["a", "b"], [earlier, decoder]).save(tmp_path / "other.json")
    with pytest.raises(UserError, match="--track .*none of its checkpoints \\(a, b\\)"):
        browse(BrowseConfig(interpret=small_pipeline["interpret"], out=tmp_path / "web2",
                            track=tmp_path / "other.json", progress=False))
