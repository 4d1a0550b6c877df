"""Pictures of a steering experiment: where the player goes (a heatmap) and a short GIF of one game."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from rlsae.common.files import atomic_path

CELL = 4  # heatmap bin size in screen pixels


def occupancy(x: np.ndarray, y: np.ndarray, playfield: tuple[int, int]) -> np.ndarray:
    """Fraction of steps spent in each CELL x CELL square of the playfield (width, height): [rows, cols]."""
    rows, cols = -(-playfield[1] // CELL), -(-playfield[0] // CELL)
    r = np.clip(np.asarray(y) // CELL, 0, rows - 1).astype(int)
    c = np.clip(np.asarray(x) // CELL, 0, cols - 1).astype(int)
    counts = np.bincount(r * cols + c, minlength=rows * cols).reshape(rows, cols).astype(np.float64)
    return counts / max(1.0, counts.sum())


def _panel(background: np.ndarray, share: np.ndarray, title: str, playfield: tuple[int, int]) -> Image.Image:
    """The playfield dimmed, with each visited cell tinted by log occupancy (dark red -> yellow)."""
    width, height = playfield
    from matplotlib import colormaps

    heat = np.log10(np.maximum(share, 1e-6))
    level = np.where(share > 0, (heat + 4) / 4, 0.0).clip(0, 1)  # 1e-4 .. 1 of the time
    colour = (colormaps["inferno"](0.35 + 0.65 * level)[..., :3] * 255).astype(np.float32)
    colour = np.repeat(np.repeat(colour, CELL, 0), CELL, 1)[:height, :width]  # cells to pixels
    mask = np.repeat(np.repeat(share > 0, CELL, 0), CELL, 1)[:height, :width, None]
    maze = background[:height, :width].astype(np.float32) * 0.45
    image = np.where(mask, 0.25 * maze + 0.75 * colour, maze).astype(np.uint8)
    canvas = Image.new("RGB", (width, height + 14), "black")
    canvas.paste(Image.fromarray(image), (0, 14))
    ImageDraw.Draw(canvas).text((3, 2), title, fill=(255, 255, 255))
    return canvas


def heatmap_png(path: Path, background: np.ndarray, panels: list[tuple[str, np.ndarray, np.ndarray]],
                playfield: tuple[int, int], scale: int = 2) -> Path:
    """Side-by-side occupancy maps: ``panels`` are (title, player x, player y), drawn over ``background``
    cut to ``playfield`` (width, height: the screen area the player moves in)."""
    images = [_panel(background, occupancy(x, y, playfield), title, playfield) for title, x, y in panels]
    width = sum(im.width for im in images) + 4 * (len(images) - 1)
    out = Image.new("RGB", (width, images[0].height), "black")
    for i, im in enumerate(images):
        out.paste(im, (i * (im.width + 4), 0))
    out = out.resize((out.width * scale, out.height * scale), Image.NEAREST)
    with atomic_path(Path(path)) as tmp:
        out.save(tmp, "PNG")
    return Path(path)


def save_gif(path: Path, frames: list[np.ndarray], every: int = 2, fps_steps: float = 15.0) -> Path:
    """A GIF of every ``every``-th agent step, played at the game's real speed (15 agent steps/s)."""
    images = [Image.fromarray(f) for f in frames[::every]]
    with atomic_path(Path(path)) as tmp:
        images[0].save(tmp, "GIF", save_all=True, append_images=images[1:], loop=0,
                       duration=int(1000 * every / fps_steps), optimize=False)
    return Path(path)
