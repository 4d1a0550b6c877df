"""Progress bars for a terminal, one line per finished stage for a log.

A redrawn bar is a stream of carriage returns and cursor codes: readable on a terminal, but in a log
(piped stdout/stderr, nohup, CI) it turns a kilobyte of content into a hundred. So a bar draws only when
stderr is a terminal; elsewhere it stays silent and prints one line when it closes: what, how much, how long.
"""

from __future__ import annotations

import io
import math
import sys
from typing import Any

from tqdm import tqdm


def on_terminal() -> bool:
    return sys.stderr.isatty()


class ProgressBar(tqdm):
    """``tqdm`` with its arguments; off a terminal, one closing line such as ``recording: 80000 steps in 95.2 s``.

    ``desc`` and ``unit`` are required, so every bar and line says what it counts.
    """

    def __init__(self, *args: Any, desc: str, unit: str, disable: bool = False, **kwargs: Any) -> None:
        self._log_line = not disable and not on_terminal()
        if self._log_line:
            kwargs.update(file=io.StringIO(), mininterval=math.inf, maxinterval=math.inf)
        super().__init__(*args, desc=desc, unit=unit, disable=disable, **kwargs)

    def close(self) -> None:
        if self._log_line and not self.disable:
            self._log_line = False  # close() runs again from __del__
            unit = self.unit if self.n == 1 else f"{self.unit}s"
            done = f"{self.n:g}" if self.total is None or self.n >= self.total else f"{self.n:g} of {self.total:g}"
            print(f"{self.desc or 'working'}: {done} {unit} in {self.format_dict['elapsed']:.1f} s",
                  file=sys.stderr, flush=True)
        super().close()
