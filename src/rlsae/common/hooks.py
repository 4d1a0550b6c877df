"""One hook mechanism to read, replace and edit any named layer of any nn.Module.

Recording, SAE splicing and feature steering all go through :func:`hooked`::

    cache = {}
    with hooked(model, {"hidden": capture(cache)}):
        q = model(obs)                       # cache["hidden"] holds the activations
    with hooked(model, {"hidden": lambda act: sae.reconstruct(act)}):
        q_spliced = model(obs)               # the layer's output is replaced

A hook function gets the layer's output tensor and returns a replacement, or None to leave it as is.
It works on the layer names of ``model.named_modules()``, so a user's own network works too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from rlsae.common.errors import UserError

HookFn = Callable[[torch.Tensor], torch.Tensor | None]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``, or a UserError listing the names that exist."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        raise UserError(f"layer '{name}' not found; layers are: {', '.join(names)}") from None


@contextmanager
def hooked(model: nn.Module, hooks: Mapping[str, HookFn]) -> Iterator[nn.Module]:
    """Run ``model`` with ``hooks[name]`` applied to the output of each named layer."""
    handles = []
    try:
        for name, fn in hooks.items():
            layer = get_layer(model, name)
            handles.append(layer.register_forward_hook(lambda _m, _i, out, fn=fn: fn(out)))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def capture(cache: dict[str, torch.Tensor], name: str = "hidden") -> HookFn:
    """A read-only hook storing the (detached) activation in ``cache[name]``."""
    def fn(act: torch.Tensor) -> None:
        cache[name] = act.detach()
    return fn
