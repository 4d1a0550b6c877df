"""SAE training on a real (tiny) recording: metrics, files, resume after an interrupt, and the CLI."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rlsae.common.errors import UserError
from rlsae.config import from_flags
from rlsae.record.recording import Recording
from rlsae.sae.data import heldout_mask, load_split, q_head
from rlsae.sae.io import load_sae
from rlsae.sae.metrics import evaluate_reconstruction
from rlsae.sae.train import CHECKPOINT, LOG, Schedule, Trainer, TrainSAEConfig, train_sae


def _cfg(recording: Path, out: Path, **overrides: object) -> TrainSAEConfig:
    base = dict(recording=recording, out=out, d_sae=128, k=8, samples=60 * 256, batch_size=256,
                heldout_fraction=0.25, lr=2e-3, log_every=10, save_every=20, dead_window=2048,
                progress=False)
    return from_flags(TrainSAEConfig, {**base, **overrides})


def test_training_saves_a_loadable_sae_that_reconstructs(tiny_recording: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    result = train_sae(_cfg(tiny_recording, tmp_path / "sae"))
    sae = load_sae(tmp_path / "sae")
    assert sae.d_in == 512 and sae.d_sae == 128 and sae.k == 8
    recording = Recording.open(tiny_recording)
    held = load_split(recording, 0.25, heldout=True).activations
    metrics = evaluate_reconstruction(sae, held, q_head(recording))
    # Saved weights act on raw activations: the same numbers as the trainer measured before saving.
    assert metrics["fvu"] == pytest.approx(result["fvu"], rel=1e-4)
    assert metrics["fvu"] < 0.5 and metrics["l0"] <= 8
    assert metrics["action_agreement"] > 0.2 and metrics["regret"] >= 0
    lines = [json.loads(line) for line in (tmp_path / "sae" / LOG).read_text().splitlines()]
    assert [line["step"] for line in lines] == [10, 20, 30, 40, 50, 60]
    assert lines[-1]["fvu"] < lines[0]["fvu"]
    assert {"fvu", "l0", "dead_fraction", "aux_loss", "advantage_fvu", "lr"} <= set(lines[0])
    meta = json.loads((tmp_path / "sae" / "cfg.json").read_text())["metadata"]
    assert meta["recording"] == str(tiny_recording.resolve()) and meta["hook_name"] == "hidden"


# relu under --target-l0: its adapted L1 coefficient is part of the resume state; jumprelu's aimed
# thresholds are weights.
@pytest.mark.parametrize("overrides", [{}, {"architecture": "relu", "target_l0": 8},
                                       {"architecture": "jumprelu", "target_l0": 8}])
def test_interrupted_training_resumes_to_the_same_result(tiny_recording: Path, tmp_path: Path,
                                                         overrides: dict[str, object]) -> None:
    torch.set_num_threads(1)
    recording = Recording.open(tiny_recording)
    data = load_split(recording, 0.25, heldout=False).activations
    held = load_split(recording, 0.25, heldout=True).activations

    straight = Trainer(_cfg(tiny_recording, tmp_path / "a", **overrides), data, held, q_head(recording)).run()

    class Interrupting(Trainer):
        def train_step(self, x: torch.Tensor) -> dict[str, float]:
            if self.step == 25:  # as Ctrl-C would, in the middle of a step
                os.kill(os.getpid(), signal.SIGINT)
            return super().train_step(x)

    with pytest.raises(KeyboardInterrupt):
        Interrupting(_cfg(tiny_recording, tmp_path / "b", **overrides), data, held, q_head(recording)).run()
    # Resume state is safetensors + JSON: nothing in an output folder is unpickled.
    assert sorted(p.name for p in (tmp_path / "b" / CHECKPOINT).iterdir()) == ["state.json", "state.safetensors"]
    resumed = Trainer(_cfg(tiny_recording, tmp_path / "b", **overrides), data, held, q_head(recording)).run()
    assert resumed["fvu"] == pytest.approx(straight["fvu"], rel=1e-5)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / LOG).read_text().splitlines()]
    assert steps == [10, 20, 30, 40, 50, 60]
    if overrides.get("architecture") == "jumprelu":
        assert torch.allclose(load_sae(tmp_path / "b").threshold, load_sae(tmp_path / "a").threshold, atol=1e-6)
        return
    if overrides:  # the checks below are of the shared settings, made once
        assert load_sae(tmp_path / "b").l1_coef == pytest.approx(load_sae(tmp_path / "a").l1_coef, rel=1e-6)
        assert load_sae(tmp_path / "a").l1_coef != 0.2  # it did adapt
        return
    Trainer(_cfg(tiny_recording, tmp_path / "c"), data, held, q_head(recording)).save_checkpoint()
    with pytest.raises(UserError, match=r"other settings \(k\)"):
        Trainer(_cfg(tiny_recording, tmp_path / "c", k=4), data, held, q_head(recording)).run()
    with pytest.raises(UserError, match="training data changed"):
        Trainer(_cfg(tiny_recording, tmp_path / "c"), data[:-5], held, q_head(recording)).run()
    # The same recording spelled another way is the same setting.
    relative = Path(os.path.relpath(tiny_recording))
    assert Trainer(_cfg(relative, tmp_path / "c"), data, held, q_head(recording)).resume()


def test_auxk_gives_dead_latents_a_gradient_towards_the_residual(tiny_recording: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    recording = Recording.open(tiny_recording)
    data = load_split(recording, 0.25, heldout=False).activations
    grads = {}
    for aux_coef in (0.0, 1 / 32):
        trainer = Trainer(_cfg(tiny_recording, tmp_path / str(aux_coef), aux_coef=aux_coef, advantage_weight=0),
                          data, data[:64])
        trainer.since_fired[:64] = trainer.dead_window  # the first half has not fired for a window
        metrics = trainer.train_step(trainer.next_batch())
        assert metrics["dead_fraction"] == 0.5
        grads[aux_coef] = trainer.sae.W_enc.grad.clone()
    extra = (grads[1 / 32] - grads[0.0]).abs().sum(0)
    assert (extra[:64] > 0).all() and (extra[64:] == 0).all()  # only the dead latents get more


def test_heldout_split_is_by_episode_and_stable() -> None:
    ids = torch.arange(1000).numpy()
    mask = heldout_mask(ids, 0.2)
    assert 0.15 < mask.mean() < 0.25
    assert (heldout_mask(ids[:500], 0.2) == mask[:500]).all()  # appending episodes changes nothing


def test_cli_trains_and_rejects_bad_input(tiny_recording: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rlsae.cli", "train-sae", *args], capture_output=True,
                              text=True, timeout=300)

    missing = run("--recording", str(tmp_path / "nope"), "--out", str(tmp_path / "x"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nope" in missing.stderr
    bad_k = run("--recording", str(tiny_recording), "--k", "0")
    assert bad_k.returncode == 2 and "--k must be >= 1" in bad_k.stderr
    ok = run("--recording", str(tiny_recording), "--out", str(tmp_path / "sae"), "--d-sae", "64", "--k", "4",
             "--samples", "2048", "--batch-size", "256", "--heldout-fraction", "0.25", "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert "held-out: fvu" in ok.stdout and (tmp_path / "sae" / "sae_weights.safetensors").exists()
    weights = (tmp_path / "sae" / "sae_weights.safetensors").read_bytes()
    again = run("--recording", str(tiny_recording), "--out", str(tmp_path / "sae"), "--d-sae", "64", "--k", "4",
                "--samples", "2048", "--batch-size", "256", "--heldout-fraction", "0.25", "--no-progress")
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
    assert ok.stdout.split("held-out: ")[1] == again.stdout.split("held-out: ")[1]  # the stored metrics
    other = run("--recording", str(tiny_recording), "--out", str(tmp_path / "sae"), "--d-sae", "64", "--k", "8",
                "--samples", "2048", "--batch-size", "256", "--heldout-fraction", "0.25", "--no-progress")
    assert other.returncode == 2 and "other settings (k)" in other.stderr and "Traceback" not in other.stderr
    assert (tmp_path / "sae" / "sae_weights.safetensors").read_bytes() == weights  # nothing retrained


@pytest.mark.parametrize("architecture", ["batchtopk", "jumprelu", "matryoshka", "relu"])
def test_every_architecture_trains_and_reloads(tiny_recording: Path, tmp_path: Path, architecture: str) -> None:
    torch.set_num_threads(1)
    result = train_sae(_cfg(tiny_recording, tmp_path / "sae", architecture=architecture, d_sae=64,
                            samples=30 * 256, advantage_weight=0, l1_coef=0.3))
    sae = load_sae(tmp_path / "sae")
    assert sae.architecture == architecture
    held = load_split(Recording.open(tiny_recording), 0.25, heldout=True).activations
    assert evaluate_reconstruction(sae, held)["fvu"] == pytest.approx(result["fvu"], rel=1e-4)
    assert result["fvu"] < 1
    lines = [json.loads(line) for line in (tmp_path / "sae" / LOG).read_text().splitlines()]
    own = {"batchtopk": "aux_loss", "jumprelu": "l0_loss", "matryoshka": "matryoshka_loss", "relu": "l1_loss"}
    assert own[architecture] in lines[0]


def test_defaults_follow_the_budget_and_the_width() -> None:
    small = Schedule.derive(from_flags(TrainSAEConfig, {"samples": 1_000_000, "d_sae": 256, "k": 4}), 256)
    assert small.batch_size == 256 and small.steps == 3906 and small.lr == pytest.approx(2e-4 * 8)
    assert small.warmup_steps == 195 and small.dead_window == 256 * 256 // 4
    large = Schedule.derive(TrainSAEConfig(samples=20_000_000), 2048)
    assert large.batch_size == 4096 and large.lr == pytest.approx(2e-4 * 8**0.5) and large.warmup_steps == 244
    tenth = Schedule.derive(from_flags(TrainSAEConfig, {"samples": 50_000, "k": 4}), 2048)
    assert tenth.dead_window == 5_000  # a tenth of the budget
    lrs = [large.lr_at(step) for step in range(large.steps)]
    assert lrs[0] < lrs[243] < lrs[244] == large.lr == max(lrs) and lrs[-1] < large.lr / 500


@pytest.mark.parametrize("flag,value,message", [
    ("lr", float("inf"), "--lr must be a finite number"), ("lr", -1e-3, "--lr must be > 0"),
    ("l1_coef", float("nan"), "--arch-option l1_coef must be a finite"),
    ("aux_coef", -1.0, "--arch-option aux_coef must be >= 0"),
    ("matryoshka_widths", (4, 0), "--arch-option matryoshka_widths must be >= 1"), ("device", "cuda:7", "no CUDA GPU"),
    ("d_sae", 0, "--d-sae must be >= 1"), ("k_aux", 0, "--arch-option k_aux must be >= 1"),
    ("target_l0", 0, "--target-l0 must be >= 1"),
    ("max_states", 0, "--max-states must be >= 1"),
    ("warmup_fraction", -0.1, "--warmup-fraction must be in \\[0, 1\\]"),
    ("log_every", 0, "--log-every must be >= 1"), ("save_every", 0, "--save-every must be >= 1"),
])
def test_out_of_range_settings_are_refused(flag: str, value: object, message: str) -> None:
    with pytest.raises(UserError, match=message):
        from_flags(TrainSAEConfig, {flag: value})


def test_non_finite_recordings_are_refused_naming_chunk_and_row(tiny_recording: Path, tmp_path: Path) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(tiny_recording, copy)
    chunk = Recording.open(copy).chunks[1]
    acts = np.load(chunk / "activations.npy", mmap_mode="r+")
    acts[7, 3] = np.nan
    acts[9, 0] = np.inf
    acts.flush()
    del acts
    recording = Recording.open(copy)
    step = int(recording.activations.offsets[1]) + 7
    heldout = bool(heldout_mask(np.asarray(recording.episode_ids[step:step + 1]), 0.25)[0])
    with pytest.raises(UserError, match=f"row 7 of chunk '{chunk.name}' \\(step {step}\\) hold NaN or inf"):
        train_sae(_cfg(copy, tmp_path / "sae"))
    assert not (tmp_path / "sae" / "cfg.json").exists()
    with pytest.raises(UserError, match="row 7 of chunk"):
        load_split(recording, 0.25, heldout=heldout)


def test_a_diverging_loss_stops_training_without_saving(tiny_recording: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    recording = Recording.open(tiny_recording)
    data = load_split(recording, 0.25, heldout=False).activations
    trainer = Trainer(_cfg(tiny_recording, tmp_path / "sae", advantage_weight=0), data, data[:64])
    with torch.no_grad():
        trainer.sae.W_dec[0] = float("nan")  # what an exploding step leaves behind
    with pytest.raises(UserError, match="training diverged at step 0: the loss is nan"):
        trainer.run()
    assert not (tmp_path / "sae" / "cfg.json").exists()
    nan_rows = data[:300].clone()
    nan_rows[17] = float("nan")
    with pytest.raises(UserError, match="training data: row 17 holds NaN"):
        Trainer(_cfg(tiny_recording, tmp_path / "other"), nan_rows, data[:64])
