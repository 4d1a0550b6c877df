"""The helper modules beside these tests (checkpoint_formats.py) import by name, as under --import-mode=importlib
the tests' folders are not on sys.path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
