"""What every executor shares about running on several cores: how many workers, and the
callback that reports progress."""

from __future__ import annotations

import os
from typing import Callable

#: Threads stripping at once: the rewriters, hashes, deflate and I/O release the GIL.
WORKERS = max(1, min(4, os.cpu_count() or 1))

#: ``progress(done_bytes, total_bytes)``
Progress = Callable[[int, int], None]
