"""Static, offline feature browser: ``export_browser(data, out_dir)`` writes a folder that opens from disk.

The analysis stage fills :class:`BrowserData` (see :mod:`rlsae.browser.data` for the contract); the
page itself is hand-written HTML/CSS/JS in ``static/``, copied next to the exported data.
"""

from rlsae.browser.data import (
    AgentInfo,
    BrowserData,
    Clip,
    Cluster,
    FactScore,
    Feature,
    FrameGroup,
    FrameItem,
    FrameSource,
    Headline,
    Histogram,
    ImageSource,
    OtherSeed,
    PlaceField,
    Related,
    RunSummary,
    SAEInfo,
    Steering,
    Sweep,
    Tile,
    TrainingPoint,
)
from rlsae.browser.export import encode_png, export_browser

__all__ = ["AgentInfo", "BrowserData", "Clip", "Cluster", "FactScore", "Feature", "FrameGroup",
           "FrameItem", "FrameSource", "Headline", "Histogram", "ImageSource", "OtherSeed",
           "PlaceField", "Related", "RunSummary",
           "SAEInfo", "Steering", "Sweep", "TrainingPoint", "Tile", "encode_png", "export_browser"]
