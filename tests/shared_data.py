"""Where the tests find real data files: ``../shared/data`` beside the clone, or the folder
named by ``$BENEDIFF_SHARED_DATA``.

A user's clone has no ``../shared``: only the tests that need a real file itself (a real mouse
video, DLC hand labels and predictions, a published atlas checked against itself) skip there;
everything else runs on simulated atlases and files. ``BENEDIFF_SHARED_DATA=/nonexistent``
shows which.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BENEDIFF_SHARED_DATA") or ROOT.parent / "shared" / "data")
