"""Seeds derived from the config seed, so every job's randomness is fixed by its identity."""

import zlib

import numpy as np


def derive_seed(*parts, bits: int = 32) -> int:
    """A stable ``bits``-bit seed from ``parts``: integers as they are, anything else (session,
    region, factor names) by its CRC-32. Same parts, same seed, on every machine."""
    keys = [p if isinstance(p, (int, np.integer)) else zlib.crc32(str(p).encode()) for p in parts]
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0] >> (32 - bits))
