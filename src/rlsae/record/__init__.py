"""Recording an agent's play: per-step activations, Q-values and game state on disk, frames re-rendered.

    from rlsae.record import RecordConfig, Recording, record
    path = record(RecordConfig(out=Path("runs/recording"), steps=100_000))
    rec = Recording.open(path)
    rec.activations[:4096]          # float32 [4096, 512], memory-mapped
    rec.render_frames([0, 123])     # uint8 [2, 210, 160, 3]

See ``store.py`` for the on-disk format, ``recorder.py`` for resuming/appending, ``render.py`` for how
frames are re-created from emulator snapshots.
"""

from rlsae.record.recorder import RecordConfig, record, record_model
from rlsae.record.recording import Recording
from rlsae.record.render import ReplayMismatch
from rlsae.record.store import ChunkedArray

__all__ = ["ChunkedArray", "RecordConfig", "Recording", "ReplayMismatch", "record", "record_model"]
