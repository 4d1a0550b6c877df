"""rlsae's modules import down the pipeline and never in a circle (read from the source with ``ast``).

Layers, bottom to top: the package root (its version), config and common; envs; agents; record; sae;
analysis; browser; the commands (cli, demo, sweep, track) and the stage table they share. A module may import from
its own layer or below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rlsae

PACKAGE = Path(rlsae.__file__).parent
LAYERS = (("__init__", "config", "common"), ("envs",), ("agents",), ("record",), ("sae",), ("analysis",),
          ("browser",), ("cli", "demo", "stages", "sweep", "track"))
LAYER = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in the file: lazy imports count too)."""
    files = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name``, the module mod
                targets.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                               for a in node.names)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYER[parts[1]] if len(parts) > 1 else LAYER["__init__"]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer(b) > layer(a))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    found = cycles(import_graph(PACKAGE))
    assert not found, "modules that import each other (directly or round a circle):\n" + "\n".join(map(str, found))


def test_imports_point_down_the_pipeline() -> None:
    found = upward_imports(import_graph(PACKAGE))
    assert not found, "imports against the pipeline (envs -> agents -> record -> sae -> analysis -> browser):\n" \
        + "\n".join(found)


def test_the_checks_see_a_planted_cycle_and_an_upward_import(tmp_path: Path) -> None:
    root = tmp_path / "rlsae"
    (root / "envs").mkdir(parents=True)
    (root / "agents").mkdir()
    for folder in (root, root / "envs", root / "agents"):
        (folder / "__init__.py").write_text("")
    (root / "envs" / "a.py").write_text("def f():\n    from rlsae.agents import b\n")
    (root / "agents" / "b.py").write_text("from rlsae.envs.a import f\n")
    graph = import_graph(root)
    assert cycles(graph) == [["rlsae.agents.b", "rlsae.envs.a"]]
    assert upward_imports(graph) == ["rlsae.envs.a -> rlsae.agents.b"]
