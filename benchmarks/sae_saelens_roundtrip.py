"""rlsae <-> SAELens interchange, checked against a real SAELens in its own venv (as benchmarks/sae_speed.py).

    python benchmarks/sae_saelens_roundtrip.py                 # writes its table into BENCHMARKS.md
    python benchmarks/sae_saelens_roundtrip.py --json out.json --no-report   # what the test runs

1. Every rlsae architecture, saved by rlsae, loaded by ``sae_lens.SAE.load_from_disk``: SAELens' encode
   and decode against ours on the same inputs.
2. SAELens SAEs of every inference architecture rlsae reads, with random weights (non-unit decoder rows,
   random thresholds): TopK with each maths flag, JumpReLU, Standard, and BatchTopK and Matryoshka
   training SAEs saved as SAELens saves them for inference. Saved by SAELens, loaded by rlsae.
3. SAELens architectures rlsae does not read must be refused with a one-line error.
Goal: encode outputs equal to 1e-5 (relative to the largest activation, floored at 1) in every case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from _report import append_section
from rlsae.common.errors import UserError
from rlsae.sae import ARCHITECTURES, build_sae, load_sae, save_sae
from sae_speed import ROOT, SAELENS_VERSION, SPARSIFY_VERSION, venv_python

D_IN, D_SAE, K = 16, 64, 4
TOLERANCE = 1e-5

# Runs under the SAELens venv's python: loads our folders, writes its own, encodes the same inputs.
SAELENS_PROGRAM = r"""
import json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
import sae_lens as sl

a = json.loads(sys.argv[1])
work = Path(a["work"])
x = load_file(str(work / "x.safetensors"))["x"]
torch.manual_seed(0)

def outputs(sae):
    with torch.no_grad():
        f = sae.encode(x)
        return {"f": f.contiguous(), "x_hat": sae.decode(f).contiguous()}

for folder in sorted((work / "ours").iterdir()):
    save_file(outputs(sl.SAE.load_from_disk(folder)), str(work / f"saelens_on_ours_{folder.name}.safetensors"))

def randomise(sae):
    with torch.no_grad():
        for name, p in sae.named_parameters():
            p.normal_(0, 0.3 if name.startswith("b_") else 1.0)
            if name == "W_dec":
                p.mul_(torch.empty(p.shape[0], 1).uniform_(0.5, 2.0) / p.norm(dim=1, keepdim=True))
            if name in ("threshold", "log_threshold"):
                p.copy_(torch.empty_like(p).uniform_(0.0, 1.5).log() if name == "log_threshold"
                        else torch.empty_like(p).uniform_(-0.2, 1.5))
    return sae

shape = dict(d_in=a["d_in"], d_sae=a["d_sae"])
cases = {
    "topk": lambda: sl.TopKSAE(sl.TopKSAEConfig(k=a["k"], **shape)),
    "topk_no_b_dec_input": lambda: sl.TopKSAE(sl.TopKSAEConfig(k=a["k"], apply_b_dec_to_input=False, **shape)),
    "topk_rescale_by_decoder_norm": lambda: sl.TopKSAE(sl.TopKSAEConfig(k=a["k"], rescale_acts_by_decoder_norm=True,
                                                                        **shape)),
    "jumprelu": lambda: sl.JumpReLUSAE(sl.JumpReLUSAEConfig(**shape)),
    "standard": lambda: sl.StandardSAE(sl.StandardSAEConfig(**shape)),
    "standard_no_b_dec_input": lambda: sl.StandardSAE(sl.StandardSAEConfig(apply_b_dec_to_input=False, **shape)),
    "batchtopk_training": lambda: sl.BatchTopKTrainingSAE(sl.BatchTopKTrainingSAEConfig(k=a["k"], **shape)),
    "matryoshka_training": lambda: sl.MatryoshkaBatchTopKTrainingSAE(sl.MatryoshkaBatchTopKTrainingSAEConfig(
        k=a["k"], matryoshka_widths=[8, 32, a["d_sae"]], **shape)),
    "jumprelu_training": lambda: sl.JumpReLUTrainingSAE(sl.JumpReLUTrainingSAEConfig(**shape)),
    "gated (rlsae refuses)": lambda: sl.GatedSAE(sl.GatedSAEConfig(**shape)),
    "layer_norm input (rlsae refuses)": lambda: sl.TopKSAE(sl.TopKSAEConfig(
        k=a["k"], normalize_activations="layer_norm", **shape)),
}
if hasattr(sl, "AbsTopKSAE"):  # newer than some 6.x releases
    cases["abs topk (rlsae refuses)"] = lambda: sl.AbsTopKSAE(sl.AbsTopKSAEConfig(k=a["k"], **shape))
for name, make in cases.items():
    sae = randomise(make()).eval()
    folder = work / "theirs" / name
    if hasattr(sae, "topk_threshold"):
        sae.topk_threshold.fill_(0.7)
    if hasattr(sae, "save_inference_model"):
        sae.save_inference_model(folder)
        sae = sl.SAE.load_from_disk(folder)  # the inference SAE a user would load
    else:
        sae.save_model(folder)
    save_file(outputs(sae), str(work / f"saelens_on_theirs_{name}.safetensors"))
print(json.dumps({"saelens_version": sl.__version__}))
"""


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the activations' scale (floored at 1): float32 folds of a flag
    into the weights round differently from SAELens' unfolded maths by a few ulps of the values."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1.0))


def _ours(work: Path, x: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """Every rlsae architecture with 'trained-looking' random weights, saved under work/ours."""
    expected = {}
    for architecture in ARCHITECTURES:
        torch.manual_seed(1)
        sae = build_sae(architecture, D_IN, D_SAE, k=K, widths=(8, 32))
        sae.init_from_data(x)
        sae.train()
        sae(x)  # BatchTopK's threshold
        with torch.no_grad():
            sae.b_enc.normal_(0, 0.3)
            sae.b_dec.normal_(0, 0.3)
        sae.eval()
        save_sae(work / "ours" / architecture, sae)
        with torch.no_grad():
            f = sae.encode(x)
            expected[architecture] = {"f": f, "x_hat": sae.decode(f)}
    return expected


def roundtrip(python: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        x = torch.randn(512, D_IN, generator=torch.Generator().manual_seed(0)) * 2 + 0.5
        save_file({"x": x}, str(work / "x.safetensors"))
        expected = _ours(work, x)
        out = subprocess.run([python, "-c", SAELENS_PROGRAM, json.dumps({"work": str(work), "d_in": D_IN,
                                                                       "d_sae": D_SAE, "k": K})],
                             capture_output=True, text=True, check=True)
        version = json.loads(out.stdout.strip().splitlines()[-1])["saelens_version"]
        rows = []
        for architecture, ours in expected.items():
            theirs = load_file(str(work / f"saelens_on_ours_{architecture}.safetensors"))
            rows.append({"direction": "rlsae -> SAELens", "case": architecture,
                         "saelens_architecture": json.loads((work / "ours" / architecture / "cfg.json").read_text())
                         ["architecture"],
                         "encode_max_diff": _max_diff(ours["f"], theirs["f"]),
                         "decode_max_diff": _max_diff(ours["x_hat"], theirs["x_hat"])})
        for folder in sorted((work / "theirs").iterdir()):
            theirs = load_file(str(work / f"saelens_on_theirs_{folder.name}.safetensors"))
            cfg = json.loads((folder / "cfg.json").read_text())
            row: dict[str, Any] = {"direction": "SAELens -> rlsae", "case": folder.name,
                                   "saelens_architecture": cfg["architecture"]}
            try:
                sae = load_sae(folder)
            except UserError as err:
                row["refused"] = str(err)
                rows.append(row)
                continue
            with torch.no_grad():
                f = sae.encode(x)
                row.update(rlsae_architecture=sae.architecture, encode_max_diff=_max_diff(f, theirs["f"]),
                           decode_max_diff=_max_diff(sae.decode(f), theirs["x_hat"]),
                           active_sets_equal=bool(torch.equal(f > 0, theirs["f"] > 0)))
            rows.append(row)
    return {"saelens_version": version, "rows": rows}


def passed(row: dict[str, Any]) -> bool:
    if "refused" in row:
        return "rlsae refuses" in row["case"] and "\n" not in row["refused"]
    return row["encode_max_diff"] <= TOLERANCE and "rlsae refuses" not in row["case"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-saelens", help="SAELens' own venv")
    parser.add_argument("--saelens-version", default=SAELENS_VERSION)
    parser.add_argument("--python", type=Path, help="a python that imports sae_lens (skips the venv)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-report", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    result = roundtrip(args.python or venv_python(args.venv, args.saelens_version, SPARSIFY_VERSION))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    for row in result["rows"]:
        print(("ok  " if passed(row) else "FAIL"), row)
    if not args.no_report:
        append_section(
            "SAELens interchange: encode outputs, rlsae vs a real SAELens",
            ["direction", "case", "SAELens architecture", "max encode diff", "max decode diff", "result"],
            [[r["direction"], r["case"], r["saelens_architecture"],
              f"{r['encode_max_diff']:.1e}" if "encode_max_diff" in r else "",
              f"{r['decode_max_diff']:.1e}" if "decode_max_diff" in r else "",
              ("refused: " + r["refused"].split(": ", 1)[-1]) if "refused" in r
              else ("equal" if passed(r) else "DIFFERENT")] for r in result["rows"]],
            f"sae-lens {result['saelens_version']} in its own venv; {D_IN} -> {D_SAE} latents, k = {K}, 512 inputs, "
            f"random weights (SAELens side: decoder row norms in [0.5, 2], random thresholds). Differences are "
            f"max |ours - SAELens'| / max(1, max |SAELens'|). Goal: encode outputs equal to {TOLERANCE:g}; "
            "architectures rlsae does not read refused with one line.")
    sys.exit(0 if all(passed(r) for r in result["rows"]) else 1)


if __name__ == "__main__":
    main()
