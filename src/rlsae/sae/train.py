"""`rlsae train-sae`: train an SAE on a recording's activations.

    out/
      cfg.json, sae_weights.safetensors, sparsity.safetensors   the SAE, SAELens v6 format (see io.py)
      log.jsonl                 one line per --log-every steps: fvu, l0, dead fraction, aux loss, lr
      checkpoint/               model + optimizer + counters, written every --save-every steps and on
                                interrupt; the next run with the same --out resumes from it

Dead-latent defences, all on by default: encoder initialised as the decoder's transpose, unit-norm
decoder rows with the norm-changing part of their gradient removed, b_dec at the data's geometric
median, inputs scaled to unit variance per dimension (folded back into the weights at save time),
AuxK on latents that have not fired for ``dead_window`` samples, Adam with warm-up and linear decay.

The loss (sae/losses.py) is the reconstruction error, plus the error in the advantages the agent's
Q-head reads when one does; ``--reconstruction-weight 0`` trains on the advantages alone (end-to-end).
``--init-from SAE`` starts from a trained SAE instead of a fresh one: a short downstream fine-tune.

Defaults follow the sample budget and the width (:class:`Schedule`), so a 1M-sample run and a
20M-sample run both get enough steps at a suitable learning rate.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rlsae.agents.protocol import HEAD_UNAVAILABLE
from rlsae.common.errors import UserError
from rlsae.common.files import load_state, read_json, save_state
from rlsae.common.progress import ProgressBar
from rlsae.common.runtime import provenance, resolve_device
from rlsae.common.signals import stop_requested
from rlsae.config import check_options, option, require, to_dict
from rlsae.record.recording import Recording
from rlsae.sae.architectures import ARCHITECTURES, build_sae
from rlsae.sae.data import (
    HELDOUT_STATES,
    RecordingBatches,
    TensorBatches,
    check_finite_rows,
    geometric_median,
    load_activations,
    load_split,
    q_head,
    split_rows,
)
from rlsae.sae.io import CFG, load_sae, save_sae
from rlsae.sae.losses import advantage_matrix, squared_error
from rlsae.sae.metrics import evaluate_reconstruction, log10_density
from rlsae.sae.model import DEFAULT_K, REGISTRY, ArchitectureOptions, SparseAutoencoder, TrainingBatch
from rlsae.sae.sparsity import SparsityControl

CHECKPOINT = "checkpoint"
STATE = "state"  # checkpoint/state.safetensors + state.json (rlsae.common.files.save_state)
LOG = "log.jsonl"
# The numbers of a LOG line as a reader calls them (the browser titles the training curves with these).
LOG_NAMES = {"lr": "learning rate", "fvu": "variance unexplained (FVU), training batches",
             "advantage_fvu": "advantage FVU through the Q-head",
             "logit_fvu": "centred-logit FVU through the actor head", "loss": "training loss",
             "aux_loss": "AuxK loss (dead latents)", "l1_loss": "L1 sparsity loss", "l0_loss": "L0 sparsity loss",
             "matryoshka_loss": "Matryoshka prefix losses", "l0": "active features (L0)",
             "sparsity_coef": "sparsity penalty coefficient",
             "dead_fraction": "dead features (recent window)"}


def _k(cfg: TrainSAEConfig) -> int:
    """The architecture's k; one without (relu) sizes its dead window as for its target L0 or the default k."""
    return getattr(cfg.options, "k", cfg.target_l0 or DEFAULT_K)


def _power_of_two_near(value: float) -> int:
    return 2 ** round(math.log2(max(value, 1.0)))


@dataclass
class Schedule:
    """The settings that follow the sample budget and the width when not given (the defaults' rules).

    - batch: the power of two nearest to samples / 4,000, within [256, 4096], so that a budget gets
      about four thousand steps: the same samples in 4x the steps reconstruct better and rank the
      agent's actions better (shipped agent, 1M states, 3M samples: FVU 0.018 vs 0.030, agreement 93.5%
      vs 91.2%; demo budget: 0.029 vs 0.039) and find more planted features (+8 to +16 points), at the
      price of more latents silent on held-out states (2.6% vs 0.6%; 15% vs 6%); BENCHMARKS.md.
    - lr: 2e-4 x sqrt(16,384 / d_sae), the 1 / sqrt(latents) scaling Gao et al. 2024 report for Top-K
      SAEs (sparsify's default); 5.7e-4 at 2048 latents, 1.6e-3 at 256.
    - warm-up: 5% of the steps, at most 1,000; then constant; a linear decay to 0 over the last
      ``decay_fraction`` of the steps.
    - dead window: a latent's mean firing period is d_sae / k samples, and "dead" means silent for 256
      such periods (16,384 samples at 2048 / k = 32: measured on 100k states, 16k left 11% of latents
      silent on held-out states, 4k 45%, 100k 17%), at most a tenth of the budget, so AuxK acts in
      short runs too.
    """

    steps: int
    batch_size: int
    lr: float
    warmup_steps: int
    decay_steps: int
    dead_window: int

    @classmethod
    def derive(cls, cfg: TrainSAEConfig, d_sae: int) -> Schedule:
        batch = min(cfg.batch_size or min(4096, max(256, _power_of_two_near(cfg.samples / 4000))), cfg.samples)
        steps = cfg.samples // batch
        warmup = min(1000, steps // 20) if cfg.warmup_fraction is None else int(cfg.warmup_fraction * steps)
        return cls(steps=steps, batch_size=batch, lr=cfg.lr or 2e-4 * math.sqrt(16384 / d_sae),
                   warmup_steps=warmup, decay_steps=min(steps - warmup, int(cfg.decay_fraction * steps)),
                   dead_window=cfg.dead_window or max(1, min(256 * d_sae // _k(cfg), cfg.samples // 10)))

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / (self.warmup_steps + 1)
        if step >= self.steps - self.decay_steps:
            return self.lr * (self.steps - step) / (self.decay_steps + 1)
        return self.lr


def architecture_options() -> dict[str, type[ArchitectureOptions]]:
    """Each architecture's block of options."""
    return {name: REGISTRY[name].options_class for name in ARCHITECTURES}


@dataclass
class TrainSAEConfig:
    recording: Path = option(Path("runs/recording"), "recording folder made by `rlsae record`")
    activations: Path | None = option(None, "instead of --recording: a float .npy array [states, d] (no agent: "
                                      "advantage-aware loss and action metrics off)")
    out: Path = option(Path("runs/sae"), "output folder (an unfinished run there is resumed)")
    architecture: str = option("topk", ", ".join(ARCHITECTURES) + " (see rlsae.sae.architectures)",
                               choices=list(ARCHITECTURES))
    expansion_factor: int = option(4, "latents per input dimension (512 -> 2048 at 4)", low=1)
    d_sae: int | None = option(None, "number of latents (overrides --expansion-factor)", low=1)
    options: ArchitectureOptions | dict[str, Any] | None = option(
        None, "one of the architecture's own options (repeatable; see docs/pipeline.md), e.g. bandwidth=0.01",
        blocks=architecture_options, chosen_by="architecture", flag="arch-option")
    target_l0: int | None = option(None, "active latents per state to reach: sets k, or adapts the penalty (relu) or "
                                   "thresholds (jumprelu) while training", low=1)
    samples: int = option(20_000_000, "training samples (batches x batch size; the data is cycled)", low=1)
    batch_size: int | None = option(None, "samples per step (default: the power of two nearest to "
                                    "samples / 4000, in [256, 4096])", low=1)
    lr: float | None = option(None, "peak Adam learning rate (default: 2e-4 x sqrt(16384 / d_sae), "
                              "Gao et al. 2024)", gt=0)
    warmup_fraction: float | None = option(None, "fraction of steps with a linear learning-rate warm-up "
                                           "(default: 5%% of the steps, at most 1000 steps)", low=0, high=1)
    decay_fraction: float = option(0.2, "final fraction of steps with a linear decay to zero", low=0, high=1)
    advantage_weight: float | None = option(None, "weight of the advantage-aware term (0 = plain MSE; default: 1 "
                                            "where a linear Q-head reads the recorded layer, else 0)", low=0)
    # 0 with the advantage term on is Braun et al. 2024's end-to-end (e2e) loss; both on is their e2e+ds.
    reconstruction_weight: float = option(1.0, "weight of the input-reconstruction term (0: end-to-end on the "
                                          "advantages alone)", low=0)
    # A short downstream fine-tune, e.g. --samples 400000 --reconstruction-weight 0 (docs/pipeline.md).
    init_from: Path | None = option(None, "start from this trained SAE folder (same architecture; its width is "
                                    "kept)")
    dead_window: int | None = option(None, "samples without firing before AuxK counts a latent dead (default: "
                                     "256 x d_sae / k, at most --samples / 10)", low=1)
    init: str = option("tied", "tied: encoder = decoder transposed, b_dec at the geometric median (Gao et al. "
                       "2024); random: the talk's (dead-prone)", choices=["tied", "random"])
    scale_inputs: bool = option(True, "scale inputs to unit variance per dimension (folded back into the weights "
                                      "when saving)")
    heldout_fraction: float = option(0.1, "fraction of episodes held out for evaluation", gt=0, lt=1)
    max_states: int | None = option(None, "use at most this many training states (default: all)", low=1)
    log_every: int = option(50, "steps between log lines", low=1)
    save_every: int = option(2000, "steps between checkpoints", low=1)
    seed: int = option(1, "random seed", low=0)
    device: str = option("auto", "torch device: auto, cpu or cuda[:N]")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.recording, self.out = Path(self.recording), Path(self.out)
        self.activations = None if self.activations is None else Path(self.activations)
        self.init_from = None if self.init_from is None else Path(self.init_from)
        if self.architecture in REGISTRY:  # else check_options names the choices
            self.options = _aimed(self.architecture, _options_block(self.architecture, self.options), self.target_l0)
        check_options(self)
        require(self.samples >= (self.batch_size or 1),
                f"--samples ({self.samples}) must be >= --batch-size ({self.batch_size})")
        require((self.warmup_fraction or 0) + self.decay_fraction <= 1,
                "--warmup-fraction + --decay-fraction must be <= 1")
        self.device = resolve_device(self.device)


def _options_block(architecture: str, given: ArchitectureOptions | dict[str, Any] | None) -> ArchitectureOptions:
    """``architecture``'s options from a block, a dict of them (a saved config's) or None (the defaults)."""
    block = REGISTRY[architecture].options_class
    if isinstance(given, block):
        return given
    require(given is None or isinstance(given, dict),
            f"options {given!r} are not {architecture}'s: give a {block.__name__} or a dict of its options")
    unknown = sorted(set(given or {}) - {f.name for f in fields(block)})
    require(not unknown, f"{architecture} has no option {', '.join(unknown)}; its options: "
            f"{', '.join(f.name for f in fields(block))}")
    return block(**(given or {}))


def _aimed(architecture: str, block: ArchitectureOptions, target_l0: int | None) -> ArchitectureOptions:
    """``block`` with its k set to ``target_l0`` where k sets L0 (an adapted penalty starts from it too)."""
    if target_l0 is None:
        return block
    if not hasattr(block, "k"):
        require(REGISTRY[architecture].sparsity_coef is not None, f"--target-l0: {architecture} has no sparsity "
                "setting to aim with")
        return block
    require(block.k in (DEFAULT_K, target_l0), f"--k {block.k} and --target-l0 {target_l0} disagree: give one")
    return replace(block, k=target_l0)


def _comparable(cfg: TrainSAEConfig) -> dict[str, Any]:
    """The settings a resumed run must share with the one it continues (paths resolved, so the same
    recording spelled differently still matches)."""
    return _settings(to_dict(cfg))


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    settings = {k: v for k, v in config.items() if k not in ("progress", "device", "out")}
    if "options" not in settings:  # saved before the options blocks, with every architecture's option flat
        flat = {f.name for block in architecture_options().values() for f in fields(block)}
        block = architecture_options().get(settings.get("architecture", "topk"))
        mine = {f.name for f in fields(block)} if block else set()
        settings["options"] = {k: settings[k] for k in sorted(mine) if k in settings}
        settings = {k: v for k, v in settings.items() if k not in flat}
    # Saved before these options existed: trained as their defaults do now.
    settings.setdefault("reconstruction_weight", 1.0)
    settings.setdefault("init_from", None)
    settings.setdefault("target_l0", None)
    block = architecture_options().get(settings.get("architecture", "topk"))
    if block is not None:
        settings["options"] = {**asdict(block()), **block.before, **settings["options"]}
    for key in ("recording", "activations", "init_from"):
        settings[key] = settings.get(key) and str(Path(settings[key]).resolve())
    return settings


def _changed(saved: dict[str, Any], cfg: TrainSAEConfig) -> list[str]:
    """The settings (named as their flags) in which the saved config, of any rlsae version, differs from ``cfg``."""
    saved, ours = (_flat(json.loads(json.dumps(c))) for c in (_settings(saved), _comparable(cfg)))  # tuples = lists
    return sorted(k for k in saved.keys() | ours.keys() if saved.get(k) != ours.get(k))


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in settings.items() if k != "options"}, **settings.get("options", {})}


def _starting_sae(cfg: TrainSAEConfig, d_in: int) -> SparseAutoencoder | None:
    """The SAE in ``--init-from`` (None without one), checked against this run's data and settings."""
    if cfg.init_from is None:
        return None
    sae = load_sae(cfg.init_from)
    where = f"--init-from '{cfg.init_from}'"
    require(sae.architecture == cfg.architecture,
            f"{where} holds a {sae.architecture} SAE: pass --architecture {sae.architecture}")
    require(sae.d_in == d_in, f"{where} reads {sae.d_in}-dim activations, this data has {d_in}")
    require(cfg.d_sae in (None, sae.d_sae), f"{where} has {sae.d_sae} latents, --d-sae asks for {cfg.d_sae}")
    return sae


class Trainer:
    """One SAE training run: the model in scaled units, counters for dead latents.

    ``train`` is [n, d_in] activations in RAM (torch or numpy) or a recording's streamed
    (:class:`RecordingBatches`), ``heldout`` [n, d_in] activations or a function reading them when the run is
    measured (then they are not held while it trains); ``head`` the Q-head's (weight,
    bias) when a linear head reads the layer (then the advantage-aware term is on unless
    ``cfg.advantage_weight`` is 0); ``output`` what that head gives, "q-values" or "policy" (an actor's
    logits: the term runs through the centred logits, and the held-out metrics are the policy's);
    ``metadata`` describes the data's source for the saved cfg.json.
    """

    main = True  # this process writes the log (in a data-parallel run only process 0 does: sae/distributed.py)

    def __init__(self, cfg: TrainSAEConfig, train: torch.Tensor | RecordingBatches,
                 heldout: torch.Tensor | Callable[[], torch.Tensor],
                 head: tuple[torch.Tensor, torch.Tensor] | None = None, metadata: dict[str, Any] | None = None,
                 output: str = "q-values"):
        train, heldout = (torch.as_tensor(np.asarray(a, np.float32)) if isinstance(a, np.ndarray)
                          else a.float() if isinstance(a, torch.Tensor) else a for a in (train, heldout))
        self.train = train if isinstance(train, RecordingBatches) else TensorBatches(train, cfg.seed)
        self.cfg, self.heldout, self.head, self.output = cfg, heldout, head, output
        self.centred_name = "logit_fvu" if output == "policy" else "advantage_fvu"
        self.metadata = metadata or {}
        self.device = torch.device(cfg.device)
        if isinstance(heldout, torch.Tensor):
            check_finite_rows(heldout, "held-out data")
        x = self.train.sample()  # all the states in RAM; a streamed recording's first shuffle buffer
        d_in = x.shape[1]
        start = _starting_sae(cfg, d_in)
        d_sae = start.d_sae if start else cfg.d_sae or cfg.expansion_factor * d_in
        require(_k(cfg) <= d_sae, f"--k ({_k(cfg)}) must be <= d_sae ({d_sae})")
        require(not cfg.advantage_weight or head is not None,
                f"--advantage-weight {cfg.advantage_weight}: {HEAD_UNAVAILABLE}; leave it out or give 0")
        self.advantage_weight = (1.0 if head is not None else 0.0) if cfg.advantage_weight is None \
            else cfg.advantage_weight
        require(cfg.reconstruction_weight > 0 or self.advantage_weight > 0,
                "--reconstruction-weight 0 leaves nothing to train on without the advantage term: give "
                "--advantage-weight > 0 (it needs a linear Q-head reading the recorded layer)")
        if head is None and self.main:
            print(f"train-sae: plain MSE and no action metrics: {HEAD_UNAVAILABLE}")
        self.schedule = Schedule.derive(cfg, d_sae)
        # AuxK's settings; an architecture without AuxK (relu, jumprelu) has none
        self.k_aux = getattr(cfg.options, "k_aux", None) or max(1, d_in // 2)
        self.aux_coef = getattr(cfg.options, "aux_coef", 0.0)
        # Unit variance per dimension about the mean, so one learning rate suits any layer's scale.
        centred = x - x.mean(0)  # one [n, d_in] temporary for all three statistics
        variance = float(centred.pow(2).sum(1).mean())
        self.scale = max(math.sqrt(variance / d_in), 1e-8) if cfg.scale_inputs else 1.0
        self.total_variance = variance / self.scale**2
        self.adv = advantage_matrix(head[0]).to(self.device) if self.advantage_weight > 0 and head else None
        if self.adv is not None:
            self.adv_variance = float((centred @ self.adv.cpu().T).pow(2).sum(1).mean()) / self.scale**2
        del centred
        torch.manual_seed(cfg.seed)
        try:
            self.sae = build_sae(cfg.architecture, d_in, d_sae, **cfg.options.sae_kwargs()).to(self.device)
        except ValueError as err:
            raise UserError(str(err)) from None
        if start is not None:
            self.sae.load_state_dict(start.state_dict())
            self.sae.fold_scale(1 / self.scale)  # the saved SAE reads raw inputs; training reads scaled ones
        elif cfg.init == "tied":
            sample = (x[torch.randperm(len(x))[:20_000]] / self.scale).to(self.device)
            with torch.no_grad():
                self.sae.b_dec.copy_(geometric_median(sample))
            self.sae.init_from_data(sample)
        else:
            with torch.no_grad():
                self.sae.W_enc.copy_(F.normalize(torch.randn_like(self.sae.W_enc), dim=0))
        self.optimizer = torch.optim.Adam(self.sae.parameter_groups(), lr=self.schedule.lr, betas=(0.9, 0.999))
        self.sparsity = None if self.sae.sparsity_coef is None else SparsityControl(
            self.sae, self.schedule.steps, getattr(cfg.options, "penalty_warmup", 0.0), cfg.target_l0)
        self.step = 0
        self.since_fired = torch.zeros(d_sae, dtype=torch.long, device=self.device)
        self.wall = 0.0

    @property
    def dead_window(self) -> int:
        return self.schedule.dead_window

    # ---- checkpoints (safetensors + JSON: nothing in an output folder is ever unpickled) ----

    def state(self) -> dict[str, Any]:
        return {"sae": self.sae.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
                "since_fired": self.since_fired.cpu(), **self.train.state(), "wall": self.wall, "scale": self.scale,
                "train_states": len(self.train), "config": _comparable(self.cfg),
                "sparsity_coef": self.sparsity and self.sparsity.coef}

    def save_checkpoint(self) -> None:
        folder = self.cfg.out / CHECKPOINT
        folder.mkdir(parents=True, exist_ok=True)
        save_state(folder / STATE, self.state())

    def resume(self) -> bool:
        state = load_state(self.cfg.out / CHECKPOINT / STATE)
        if state is None:
            return False
        changed = _changed(state["config"], self.cfg)
        if changed:
            raise UserError(f"'{self.cfg.out}' holds an unfinished run with other settings "
                            f"({', '.join(changed)}): use another --out, or the same settings to resume")
        if state.get("train_states") != len(self.train):
            raise UserError(f"the training data changed since the unfinished run in '{self.cfg.out}' started "
                            f"({state.get('train_states')} training states then, {len(self.train)} now): use "
                            "another --out to train on the new data")
        try:
            self.sae.load_state_dict(state["sae"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.train.load_state(state)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"the resume state in '{self.cfg.out / CHECKPOINT}' does not fit this run "
                            f"({str(err).splitlines()[0]}); delete that folder to start over") from None
        self.since_fired = state["since_fired"].to(self.device)
        self.step = state["step"]
        self.wall, self.scale = state["wall"], state["scale"]
        if self.sparsity is not None and state.get("sparsity_coef") is not None:
            self.sparsity.coef = state["sparsity_coef"]
        return True

    # ---- training ----

    def next_batch(self) -> torch.Tensor:
        return (self.train.next(self.schedule.batch_size) / self.scale).to(self.device, non_blocking=True)

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        sae = self.sae
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr_at(self.step) * group.get("lr_scale", 1.0)
        if self.sparsity is not None:
            self.sparsity.before_step(self.step)
        x_hat, code = sae(x)
        fvu = squared_error(x, x_hat) / self.total_variance
        loss = self.cfg.reconstruction_weight * fvu
        metrics = {"fvu": fvu.item()}
        if self.adv is not None:
            adv_fvu = squared_error(x @ self.adv.T, x_hat @ self.adv.T) / self.adv_variance
            loss = loss + self.advantage_weight * adv_fvu
            metrics[self.centred_name] = adv_fvu.item()
        dead = self.since_fired >= self.dead_window
        terms = sae.training_losses(TrainingBatch(x, x_hat, code, dead, self.total_variance, self.aux_coef,
                                                  self.k_aux))
        for name, term in terms.items():
            loss = loss + term
            metrics[name] = term.item()
        if not math.isfinite(loss.item()):
            raise UserError(f"training diverged at step {self.step}: the loss is {loss.item()} "
                            f"({', '.join(f'{k} {v:.3g}' for k, v in metrics.items())}); nothing was saved. "
                            f"Try a lower --lr (this run: {self.schedule.lr:.3g})")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.share_gradients()
        sae.remove_parallel_gradient()
        self.optimizer.step()
        sae.normalize_decoder()
        with torch.no_grad():
            active = code.values > 0
            l0 = active.sum(1).float().mean()
            if code.indices is None:
                fired = active.any(0)
            else:
                fired = torch.zeros_like(dead).index_fill_(0, code.indices[active], True)
            fired = self.share_fired(fired)
            self.since_fired += self.schedule.batch_size
            self.since_fired[fired] = 0
        metrics.update(loss=loss.item(), l0=l0.item(), dead_fraction=dead.float().mean().item())
        if self.sparsity is not None:
            if self.sparsity.target is not None:  # gathered rows cost a distributed run only when aiming
                self.sparsity.after_step(self.share_rows(active.sum(1).float()).mean().item(),
                                         self.schedule.lr_at(self.step) / self.schedule.lr,
                                         self.share_rows(code.pre.detach()))
            metrics["sparsity_coef"] = self.sparsity.coef
        return metrics

    # Data-parallel hooks (sae/distributed.py); a single process has nothing to share.
    def share_gradients(self) -> None:
        """Average the gradients over the processes training together."""

    def share_fired(self, fired: torch.Tensor) -> torch.Tensor:
        """The latents that fired in any process's share of the batch."""
        return fired

    def share_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Every process's ``rows`` of the batch, stacked (what aims thresholds must see alike everywhere)."""
        return rows

    def run(self) -> dict[str, Any]:
        cfg, steps = self.cfg, self.schedule.steps
        cfg.out.mkdir(parents=True, exist_ok=True)
        if not self.resume():
            if (cfg.out / CFG).exists():
                return self.finished_run()
            if self.main:
                (cfg.out / LOG).unlink(missing_ok=True)
        bar = ProgressBar(total=steps, initial=self.step, unit="step", desc=f"train-sae {cfg.architecture}",
                          disable=not cfg.progress, smoothing=0.05)
        started = time.time()
        wall_at_start = self.wall
        with stop_requested() as stop, open(cfg.out / LOG if self.main else os.devnull, "a") as log:
            while self.step < steps:
                if stop.set:
                    self.save_checkpoint()
                    bar.close()
                    raise KeyboardInterrupt
                metrics = self.train_step(self.next_batch())
                self.step += 1
                self.wall = wall_at_start + time.time() - started
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == steps:
                    bar.set_postfix({k: f"{metrics[k]:.3g}" for k in ("fvu", "l0", "dead_fraction")},
                                    refresh=False)
                    log.write(json.dumps({"step": self.step, "samples": self.step * self.schedule.batch_size,
                                          "lr": self.schedule.lr_at(self.step - 1), "wall": round(self.wall, 2),
                                          **{k: round(v, 6) for k, v in metrics.items()}}) + "\n")
                    log.flush()
                if self.step % cfg.save_every == 0:
                    self.save_checkpoint()
        bar.close()
        return self.finish()

    def finished_run(self) -> dict[str, Any]:
        """The held-out metrics of the SAE already in --out when it was trained with these settings on
        this data (a re-run has nothing to do); otherwise a one-line refusal naming what differs."""
        out = self.cfg.out
        try:
            stored = read_json(out / CFG)["metadata"]["rlsae"]
            changed = _changed(stored["config"], self.cfg)
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"'{out}' already holds an SAE that rlsae train-sae did not finish: choose another "
                            "--out or delete it") from None
        if changed:
            raise UserError(f"'{out}' already holds an SAE trained with other settings ({', '.join(changed)}): "
                            "choose another --out, or delete it to train again")
        if stored.get("train_states") != len(self.train):
            raise UserError(f"'{out}' already holds an SAE trained on other data ({stored.get('train_states')} "
                            f"training states then, {len(self.train)} now): choose another --out")
        return {"out": str(out), "train_states": stored["train_states"], "steps": stored["steps"],
                "wall_time_s": stored["wall_time_s"], "finished": True, **stored["heldout"]}

    def finish(self) -> dict[str, Any]:
        """Fold the input scale into the weights, measure on held-out states, save in SAELens format."""
        cfg = self.cfg
        states = self.train.sample()  # all training states in RAM; a streamed recording's shuffle buffer
        sample = torch.randperm(len(states), generator=torch.Generator().manual_seed(cfg.seed))[:8192]
        sample = (states[sample] / self.scale).to(self.device)
        if self.sparsity is not None:
            self.sparsity.finish(sample)
        self.sae.finish_training(sample)
        sae = self.sae.cpu().eval()
        sae.fold_scale(self.scale)
        self.train.close()  # the shuffle buffer's memory, before the held-out states are read
        heldout = self.heldout if isinstance(self.heldout, torch.Tensor) else self.heldout()
        metrics = evaluate_reconstruction(sae, heldout, self.head, self.output)
        density = metrics.pop("density")
        log10 = log10_density(density, dead=-10.0)  # SAELens' sparsity files use log10(1e-10) for dead
        # paths stored resolved (from _comparable): a re-run from another directory compares equal
        metadata = {**self.metadata, "heldout_fraction": cfg.heldout_fraction,
                    "rlsae": {"config": {**to_dict(cfg), **_comparable(cfg)}, "input_scale": self.scale,
                              "schedule": asdict(self.schedule),
                              "k_aux": self.k_aux, "train_states": len(self.train), "steps": self.step,
                              "wall_time_s": round(self.wall, 1), "device": cfg.device, "heldout": metrics,
                              **provenance()}}
        save_sae(cfg.out, sae, metadata, log10)
        for suffix in (".safetensors", ".json"):
            (cfg.out / CHECKPOINT / STATE).with_suffix(suffix).unlink(missing_ok=True)
        return {"out": str(cfg.out), "train_states": len(self.train), "steps": self.step,
                "wall_time_s": round(self.wall, 1), **metrics}


def train_sae(cfg: TrainSAEConfig, trainer: type[Trainer] = Trainer) -> dict[str, Any]:
    """Train an SAE on ``cfg.activations`` or else ``cfg.recording`` and save it; returns its held-out metrics."""
    if cfg.activations is not None:
        train, heldout = split_rows(load_activations(cfg.activations), cfg.heldout_fraction, cfg.seed,
                                    cfg.max_states)
        metadata = {"hook_name": "activations", "activations": str(cfg.activations.resolve())}
        return trainer(cfg, train, heldout, None, metadata).run()
    recording = Recording.open(cfg.recording)
    train = RecordingBatches(recording, cfg.heldout_fraction, cfg.seed, cfg.max_states)

    def heldout() -> torch.Tensor:
        return load_split(recording, cfg.heldout_fraction, heldout=True, max_states=HELDOUT_STATES,
                          seed=cfg.seed).activations

    heldout()  # read once now too: a recording without held-out states, or with broken ones, fails before training
    agent = recording.manifest.get("agent", {}).get("manifest", {})
    # agent_step orders SAEs of a checkpoint series (`rlsae track`)
    metadata = {"hook_name": recording.manifest["layer"], "recording": str(cfg.recording.resolve()),
                "agent": agent.get("command"), "agent_step": agent.get("step")}
    return trainer(cfg, train, heldout, q_head(recording), metadata, output=recording.output).run()
