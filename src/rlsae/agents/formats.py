"""Checkpoints by name: CleanRL and Stable-Baselines3 Atari agents, read without their code or a pickle.

    cleanrl-dqn:FILE     dqn_atari / pqn_atari ``.cleanrl_model``: ``torch.save(q_network.state_dict())`` of
                         ``network`` = Nature CNN -> Linear(3136, 512) -> ReLU -> Linear(512, A) (pqn_atari: a
                         LayerNorm after each conv and the 512-unit Linear); reads ``network.8`` (pqn: ``network.12``)
    cleanrl-ppo:FILE     ppo_atari ``agent.state_dict()``: ``network`` (Nature CNN -> 512 -> ReLU), ``actor``
                         Linear(512, A) = policy logits, ``critic`` Linear(512, 1) = value; reads ``network.8``
    sb3:FILE.zip         ``model.save()`` of DQN, QR-DQN (sb3-contrib) or PPO with CnnPolicy: a zip holding the
                         JSON ``data`` and the state dict ``policy.pth``. NatureCNN ``features_extractor.cnn.*`` +
                         ``features_extractor.linear.*``; DQN under ``q_net.`` with head ``q_net.q_net.0``;
                         QR-DQN under ``quantile_net.`` with a head of n_quantiles x A outputs whose mean over
                         the quantiles is the Q-value; PPO with ``action_net`` and ``value_net``. Reads
                         ``[q_net.|quantile_net.]features_extractor.linear.1``. The target copies are not read.

Each network is rebuilt under the file's own module names, so a layer is named as its author names it. A
QR-DQN gets one more module, ``q_mean``: the nn.Linear whose rows are the quantile head's rows averaged over
the quantiles, so its output is SB3's Q-value (the mean of the quantiles) and the head is linear as the
exact metrics need. The observation contract (four stacked 84x84 grey frames, channels first, uint8 scaled
by 1/255) is read from the weights' shapes and SB3's ``data`` and checked against the frames every env here
makes; a mismatch is a UserError naming it. SB3's ``data`` is read as JSON: its ":serialized:" fields are
base64 pickles and are never decoded.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rlsae.common.errors import UserError
from rlsae.config import require

FORMATS = {"cleanrl-dqn": "a CleanRL dqn_atari/pqn_atari .cleanrl_model",
           "cleanrl-ppo": "a CleanRL ppo_atari .cleanrl_model",
           "sb3": "a Stable-Baselines3 DQN, QR-DQN or PPO zip (CnnPolicy)"}
STACK, FRAME = 4, 84  # what every env here produces: uint8 [B, 4, 84, 84], channels first
NATURE_CONVS = ((8, 4), (4, 2), (3, 1))  # (kernel, stride) of the Nature-DQN convolutions


def is_format(text: str) -> bool:
    """``cleanrl-dqn:FILE``, ``cleanrl-ppo:FILE`` or ``sb3:FILE`` rather than a path or a factory."""
    return text.partition(":")[0] in FORMATS and ":" in text


@dataclass
class Built:
    """A network rebuilt from a file: ``model``, the layer a user reads, the linear head(s) reading it."""

    model: nn.Module
    layer: str
    head: str
    output: str  # "q-values" or "policy"
    value: str | None = None


class FileNetwork(nn.Module):
    """Modules under the file's own dotted names, applied in ``order`` to frames scaled by 1/255."""

    def __init__(self, modules: list[tuple[str, nn.Module]], order: list[str]):
        super().__init__()
        for name, module in modules:
            parent = self
            *path, last = name.split(".")
            for part in path:
                if not hasattr(parent, part):
                    parent.add_module(part, nn.Module())
                parent = getattr(parent, part)
            parent.add_module(last, module)
        self.order = order

    def features(self, frames: torch.Tensor, upto: str) -> torch.Tensor:
        x = frames.float() / 255.0
        for name in self.order[:self.order.index(upto) + 1]:
            x = self.get_submodule(name)(x)
        return x

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.features(frames, self.order[-1])


def as_cleanrl(model: nn.Module) -> dict[str, torch.Tensor]:
    """An rlsae QNetwork's state dict under CleanRL's names (pqn_atari's with LayerNorm, dqn_atari's without):
    its modules after ``scale`` are, in order, CleanRL's ``network`` Sequential. ``torch.save`` it as a
    ``.cleanrl_model``."""
    index = {name: i for i, name in enumerate(n for n, _ in model.named_children() if n != "scale")}
    return {f"network.{index[key.split('.')[0]]}.{key.split('.', 1)[1]}": value.detach().clone()
            for key, value in model.state_dict().items()}


def load_format(text: str, device: str = "cpu") -> tuple[Built, Path]:
    """The network ``FORMAT:FILE`` names, with its weights, on ``device`` in eval mode; and the file."""
    kind, _, name = text.partition(":")
    path = Path(name)
    require(path.is_file(), f"--agent {text}: '{path}' not found ({FORMATS[kind]} expected)")
    if kind == "sb3":
        state, data = read_sb3_zip(path)
        built = sb3_network(state, data, path)
    else:
        state = read_state_dict(path, io.BytesIO(path.read_bytes()))
        built = cleanrl_network(state, kind, path)
    return Built(built.model.to(device).eval(), built.layer, built.head, built.output, built.value), path


def read_state_dict(path: Path, stream: io.BytesIO, member: str = "") -> dict[str, torch.Tensor]:
    """A torch state dict read with ``weights_only=True``: tensors only, nothing unpickled."""
    where = f"'{path}'" + (f" ({member})" if member else "")
    try:
        state = torch.load(stream, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        raise UserError(f"{where} is not a torch state dict readable with weights_only=True: "
                        f"{str(err).splitlines()[0]}") from None
    require(isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()),
            f"{where} holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v.float() for k, v in state.items()}


def read_sb3_zip(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(``policy.pth``'s state dict, the ``data`` JSON) of an SB3 zip; ":serialized:" fields stay unread."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            require("policy.pth" in names and "data" in names,
                    f"'{path}' is not a Stable-Baselines3 model zip (it lacks 'data' or 'policy.pth')")
            data = json.loads(archive.read("data"))
            state = read_state_dict(path, io.BytesIO(archive.read("policy.pth")), "policy.pth")
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"'{path}' is not a readable Stable-Baselines3 zip: {err}") from None
    require(isinstance(data, dict), f"'{path}': its 'data' is not a JSON object")
    return state, data


def nature_cnn(state: dict[str, torch.Tensor], convs: list[str], fc: str, path: Path) -> list[nn.Module]:
    """The Nature-DQN convolutions and 512-unit Linear at the state dict's names, with the observation
    contract read from their shapes: a UserError naming the first thing our frames would not fit."""
    for name in (*convs, fc):
        require_weight(state, name, path)
    layers: list[nn.Module] = []
    for name, (kernel, stride) in zip(convs, NATURE_CONVS):
        out_c, in_c, kh, kw = state[f"{name}.weight"].shape
        require((kh, kw) == (kernel, kernel), f"'{path}': '{name}' is a {kh}x{kw} convolution, not the Nature CNN's "
                f"{kernel}x{kernel}")
        layers.append(nn.Conv2d(in_c, out_c, kernel, stride=stride))
    channels = layers[0].in_channels
    require(channels != FRAME, f"'{path}' reads channels-last frames ({FRAME} input channels): rlsae feeds "
            f"channels-first [B, {STACK}, {FRAME}, {FRAME}] (SB3's VecTransposeImage order)")
    require(channels == STACK, f"'{path}' reads {channels} input channels: rlsae feeds a stack of {STACK} grey "
            f"frames (stack depth {STACK}, no colour)")
    side = FRAME
    for kernel, stride in NATURE_CONVS:
        side = (side - kernel) // stride + 1
    out_f, in_f = state[f"{fc}.weight"].shape
    want = layers[-1].out_channels * side * side
    require(in_f == want, f"'{path}' flattens {in_f} features, not the {want} of {FRAME}x{FRAME} frames: it was "
            f"trained on another frame size")
    layers.append(nn.Linear(in_f, out_f))
    return layers


def require_weight(state: dict[str, torch.Tensor], name: str, path: Path) -> None:
    require(f"{name}.weight" in state, f"'{path}' has no '{name}.weight': not the layout its format names "
            f"(its keys: {', '.join(sorted(state)[:6])}, ...)")


def linear(state: dict[str, torch.Tensor], name: str, path: Path) -> nn.Linear:
    require_weight(state, name, path)
    out_f, in_f = state[f"{name}.weight"].shape
    return nn.Linear(in_f, out_f)


def cleanrl_network(state: dict[str, torch.Tensor], kind: str, path: Path) -> Built:
    """CleanRL's ``network`` Sequential (its indices kept), with the Q-head at its end or actor and critic."""
    layer_norm = "network.1.weight" in state  # pqn_atari: Conv, LayerNorm, ReLU per block
    step = 3 if layer_norm else 2
    convs = [f"network.{i * step}" for i in range(3)]
    flatten = 3 * step
    fc = f"network.{flatten + 1}"
    cnn = nature_cnn(state, convs, fc, path)
    modules: list[tuple[str, nn.Module]] = []
    for i, (name, layer) in enumerate(zip([*convs, fc], cnn)):
        index = int(name.split(".")[1])
        if i == 3:
            modules.append((f"network.{flatten}", nn.Flatten()))
        modules.append((name, layer))
        if layer_norm:
            require_weight(state, f"network.{index + 1}", path)
            shape = state[f"network.{index + 1}.weight"].shape
            modules.append((f"network.{index + 1}", nn.LayerNorm(list(shape))))
        modules.append((f"network.{index + step - 1}", nn.ReLU()))
    read = modules[-1][0]
    if kind == "cleanrl-dqn":
        head = f"network.{int(read.split('.')[1]) + 1}"
        modules.append((head, linear(state, head, path)))
        return _built(state, modules, read, head, "q-values", path)
    modules += [("actor", linear(state, "actor", path)), ("critic", linear(state, "critic", path))]
    return _built(state, modules, read, "actor", "policy", path, value="critic")


def sb3_network(state: dict[str, torch.Tensor], data: dict[str, Any], path: Path) -> Built:
    """An SB3 CnnPolicy network, its algorithm told by its module names (DQN, QR-DQN or PPO/A2C)."""
    check_sb3_data(data, path)
    prefix = next((p for p in ("q_net.", "quantile_net.", "") if f"{p}features_extractor.cnn.0.weight" in state),
                  None)
    if prefix is None:
        raise UserError(f"'{path}' holds no NatureCNN ('features_extractor.cnn.0.weight' under 'q_net.', "
                        "'quantile_net.' or the policy itself): only CnnPolicy DQN, QR-DQN and PPO are read")
    extractor = f"{prefix}features_extractor"
    if not prefix:
        for other in ("pi_features_extractor", "vf_features_extractor"):
            require(all(torch.equal(v, state.get(k.replace("features_extractor", other, 1), v))
                        for k, v in state.items() if k.startswith("features_extractor.")),
                    f"'{path}' has its own {other} (share_features_extractor=False): no one layer feeds both "
                    "heads, so rlsae cannot read it")
        require(not any(k.startswith("mlp_extractor.") for k in state),
                f"'{path}' has an mlp_extractor between the CNN and the heads (a net_arch): only CnnPolicy's "
                "default, with the heads on the 512-unit layer, is read")
    convs = [f"{extractor}.cnn.{i}" for i in (0, 2, 4)]
    cnn = nature_cnn(state, convs, f"{extractor}.linear.0", path)
    modules: list[tuple[str, nn.Module]] = []
    for name, layer in zip(convs, cnn):
        index = int(name.rsplit(".", 1)[1])
        modules += [(name, layer), (f"{extractor}.cnn.{index + 1}", nn.ReLU())]
    modules += [(f"{extractor}.cnn.6", nn.Flatten()), (f"{extractor}.linear.0", cnn[-1]),
                (f"{extractor}.linear.1", nn.ReLU())]
    read = f"{extractor}.linear.1"
    if not prefix:
        modules += [("action_net", linear(state, "action_net", path)), ("value_net", linear(state, "value_net", path))]
        return _built(state, modules, read, "action_net", "policy", path, value="value_net")
    head = f"{prefix}{prefix.rstrip('.')}.0"
    modules.append((head, linear(state, head, path)))
    if prefix == "q_net.":
        return _built(state, modules, read, head, "q-values", path)
    n_actions = _action_count(data, path)
    quantiles = modules[-1][1]
    require(quantiles.out_features % n_actions == 0, f"'{path}': its quantile head has {quantiles.out_features} "
            f"outputs, not a multiple of its {n_actions} actions")
    mean = nn.Linear(quantiles.in_features, n_actions)
    built = _built(state, [*modules, ("q_mean", mean)], read, "q_mean", "q-values", path, derived=("q_mean",),
                   aside=(head,))
    with torch.no_grad():
        # SB3 views the quantile outputs as [n_quantiles, A]; the mean of linear maps is one linear map
        mean.weight.copy_(quantiles.weight.view(-1, n_actions, quantiles.in_features).mean(0))
        mean.bias.copy_(quantiles.bias.view(-1, n_actions).mean(0))
    return built


def check_sb3_data(data: dict[str, Any], path: Path) -> None:
    """SB3's observation space and preprocessing, read from the plain JSON fields beside ":serialized:"."""
    space = data.get("observation_space")
    if isinstance(space, dict):
        shape, dtype = space.get("_shape"), space.get("dtype")
        if isinstance(shape, list):
            require(shape != [FRAME, FRAME, STACK], f"'{path}' was trained on channels-last frames {shape}: rlsae "
                    f"feeds channels-first [{STACK}, {FRAME}, {FRAME}] (SB3's VecTransposeImage order)")
            require(shape == [STACK, FRAME, FRAME], f"'{path}' was trained on observations {shape}: rlsae feeds "
                    f"[{STACK}, {FRAME}, {FRAME}] ({STACK} stacked {FRAME}x{FRAME} grey frames)")
        require(dtype in (None, "uint8"), f"'{path}' was trained on {dtype} observations: rlsae feeds uint8 pixels "
                "scaled by 1/255")
    kwargs = data.get("policy_kwargs")  # a plain dict, or SB3's ":serialized:" one with its plain keys beside it
    if isinstance(kwargs, dict):
        require(kwargs.get("normalize_images", True) is not False,
                f"'{path}' was trained with normalize_images=False (no 1/255 scaling): rlsae scales pixels by "
                "1/255 as SB3's default does")


def _action_count(data: dict[str, Any], path: Path) -> int:
    space = data.get("action_space")
    n = space.get("n") if isinstance(space, dict) else None
    require(isinstance(n, int) and n > 0, f"'{path}': its 'data' names no action count (action_space.n)")
    return int(n)


def _built(state: dict[str, torch.Tensor], modules: list[tuple[str, nn.Module]], layer: str, head: str,
           output: str, path: Path, value: str | None = None, derived: tuple[str, ...] = (),
           aside: tuple[str, ...] = ()) -> Built:
    """Load the file's tensors into the rebuilt modules: every module's tensor must be there; others in the
    file (target copies, a PPO's duplicate extractor names, SB3's log_std) are left unread. The forward
    runs every module but the value head and those ``aside`` (a QR-DQN's quantile head, read via q_mean)."""
    order = [name for name, _ in modules if name != value and name not in aside]
    model = FileNetwork(modules, order)
    wanted = {k for k in model.state_dict() if k.split(".")[0] not in derived}
    missing = sorted(wanted - set(state))
    require(not missing, f"'{path}' lacks {', '.join(missing[:4])}: not the layout its format names")
    try:
        model.load_state_dict({k: state[k] for k in wanted}, strict=False)
    except RuntimeError as err:
        raise UserError(f"the weights in '{path}' do not fit their layout: {str(err).splitlines()[-1].strip()}") \
            from None
    return Built(model, layer, head, output, value)
