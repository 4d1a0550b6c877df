"""The interpret stage's output folder: what every later stage (steer, browse) reads instead of recomputing.

    OUT/
      features.npz    per-feature arrays (below), plus ``states``: the recording indices analysed, and the
                      neurons' explanation arrays (``neuron_explained``, ``neuron_explain_<score>``)
      features.json   per-feature strings: labels, label facts, fact names/descriptions, cluster names, the
                      explanations in words (``explanation``; the neurons': ``neuron_explanation``)
      summary.json    headline numbers (analysis/summary.py InterpretSummary): density and dead counts, the
                      label rule, label statistics and per-fact tables (features and neurons), the talk's
                      features, the best feature and neuron for each of the game's headline facts, the share
                      of live features found again in another seed's SAE (with ``--other-sae``)
      manifest.json   what produced it (SAE, recording, config, versions); written last

Example states are stored as recording indices, so frames can be re-rendered from the recording.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rlsae.analysis.explain_summary import UnitExplanations
from rlsae.analysis.labels import LABEL_SCORES, LabelScores
from rlsae.analysis.summary import InterpretSummary
from rlsae.common.errors import UserError
from rlsae.common.files import read_json, write_bytes, write_json

ARRAYS = "features.npz"
STRINGS = "features.json"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"
KIND = "rlsae-interpret"


@dataclass
class InterpretResult:
    """Everything ``rlsae interpret`` found, one row per SAE feature ([d] = one value per feature)."""

    states: np.ndarray              # [n_states] recording indices analysed
    density: np.ndarray             # [d] fraction of states where the feature is non-zero
    max_activation: np.ndarray      # [d]
    action_effect: np.ndarray       # [d, n_actions] W_head @ decoder direction
    hist_edges: np.ndarray          # [d, bins + 1] of the non-zero activations (zeros for dead features)
    hist_counts: np.ndarray         # [d, bins]
    example_states: np.ndarray      # [d, n_examples] recording indices, -1 = none
    example_activations: np.ndarray  # [d, n_examples]
    example_groups: np.ndarray      # [d, n_examples] index into group_titles, -1 = none
    fact_auroc: np.ndarray          # [d, n_facts] held-out AUROC of each feature for each binary fact
    fact_f1: np.ndarray             # [d, n_facts] held-out F1 at the threshold chosen on the fitting split
    label_scores: LabelScores[np.ndarray]  # [d] each: the scores of each feature's label_fact (analysis/labels.py)
    explanations: UnitExplanations  # [d]: each feature's explanation, its held-out scores, explained or not
    neuron_explanations: UnitExplanations  # [d_in]: the same for each of the layer's neurons
    cluster: np.ndarray             # [d] cluster id, -1 for dead features
    group_titles: list[str]
    fact_names: list[str]
    fact_descriptions: list[str]
    label_fact: list[str]
    label: list[str | None]         # None when the best fact fails the label rule (summary.label_rule)
    cluster_names: list[str]
    summary: InterpretSummary
    value_effect: np.ndarray | None = None  # [d] an actor-critic's value head @ decoder direction; None: no such head
    # [d, rows, columns] mean held-out activation with the player on each tile (nan: never there) and [d] its
    # spatial information in bits (analysis/place.py); None for a game whose spec names no player position
    place_mean: np.ndarray | None = None
    place_information: np.ndarray | None = None
    # [d] each feature's nearest feature in the other seed's SAE by decoder cosine and that cosine, and its
    # one-to-one (Hungarian) partner (-1: none) and their cosine (nan: none; analysis/seed_match.py); None
    # without ``interpret --other-sae``
    other_seed_nearest: np.ndarray | None = None
    other_seed_cosine: np.ndarray | None = None
    other_seed_matched: np.ndarray | None = None
    other_seed_matched_cosine: np.ndarray | None = None

    @property
    def d_sae(self) -> int:
        return len(self.density)

    @property
    def alive(self) -> np.ndarray:
        return self.density > 0

    def examples(self, feature: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(group title, recording indices, activations) of one feature's example groups, in order."""
        groups = self.example_groups[feature]
        out = []
        for g in dict.fromkeys(groups[groups >= 0].tolist()):
            keep = groups == g
            out.append((self.group_titles[g], self.example_states[feature, keep],
                        self.example_activations[feature, keep]))
        return out


_STRING_FIELDS = ("group_titles", "fact_names", "fact_descriptions", "label_fact", "label", "cluster_names")
_NOT_ARRAYS = (*_STRING_FIELDS, "summary", "label_scores", "explanations", "neuron_explanations")
LABEL_PREFIX = "label_"  # features.npz holds each label score as label_<name> (as before typed scores)
# features.npz and features.json: (InterpretResult field, prefix of its arrays, its formulas' key in features.json)
_EXPLAINED = (("explanations", "", "explanation"), ("neuron_explanations", "neuron_", "neuron_explanation"))


def save_result(out: Path, result: InterpretResult, manifest: dict[str, Any]) -> Path:
    """Write ``result`` into ``out``; the manifest goes last, so its presence means a complete folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{f.name: getattr(result, f.name) for f in fields(result)
                        if f.name not in _NOT_ARRAYS and getattr(result, f.name) is not None},
             **{LABEL_PREFIX + name: np.asarray(getattr(result.label_scores, name), np.float32)
                for name in LABEL_SCORES},
             **{key: value for field, prefix, _ in _EXPLAINED
                for key, value in getattr(result, field).arrays(prefix).items()})
    write_bytes(out / ARRAYS, buffer.getvalue())
    write_json(out / STRINGS, {**{name: getattr(result, name) for name in _STRING_FIELDS},
                               **{key: getattr(result, field).formula for field, _, key in _EXPLAINED}})
    result.summary.save(out / SUMMARY)
    write_json(out / MANIFEST, {"kind": KIND, **manifest})
    return out


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UserError(f"no interpret output at '{folder}': expected {MANIFEST} written by "
                        f"`rlsae interpret --out {folder}` (an interrupted run leaves none; run it again)")
    manifest = read_json(path, "interpret manifest")
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        kind = manifest.get("kind") if isinstance(manifest, dict) else type(manifest).__name__
        raise UserError(f"'{path}' is not an interpret manifest (kind {kind!r})")
    return manifest


def load_result(folder: Path) -> InterpretResult:
    """Read an interpret output folder written by :func:`save_result`."""
    folder = Path(folder)
    read_manifest(folder)
    # The summary first: an older folder (one that lacks the arrays a newer rlsae adds) or a foreign one is a
    # one-line UserError of its own, "rerun `rlsae interpret`".
    part = SUMMARY  # the file being read, for the message
    try:
        summary = InterpretSummary.from_json(json.loads((folder / SUMMARY).read_text()), str(folder / SUMMARY))
        part = ARRAYS
        with np.load(folder / ARRAYS) as arrays:
            values: dict[str, Any] = {name: arrays[name] for name in arrays.files}
        values["label_scores"] = LabelScores(**{name: values.pop(LABEL_PREFIX + name) for name in LABEL_SCORES})
        part = STRINGS
        strings = json.loads((folder / STRINGS).read_text())
        for field, prefix, key in _EXPLAINED:
            values[field] = UnitExplanations.read(values, strings.pop(key), prefix)
        values.update(strings)
        part = f"{ARRAYS} + {STRINGS}"
        return InterpretResult(**values, summary=summary)
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as err:
        raise UserError(f"the interpret output '{folder}' is damaged or incomplete: {part} "
                        f"({str(err).splitlines()[0]}); run `rlsae interpret` again into a new --out") from None
