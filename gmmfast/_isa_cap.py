"""GMMFAST_ISA, read once by each compiled module with builds per instruction set
(_kernels/_core.pyx, _missing_rows.pyx, _kmeans.pyx) as it is imported: the widest
build it may choose (default: the widest this CPU runs), so that the narrower builds
can be tested on a wide machine."""

import os

#: the caps' levels, as the modules' C (isa.h's gmm_isa_detect) reads them: the
#: baseline build (0), then AVX2 on x86-64 or NEON on aarch64 (1), then AVX-512 (2)
LEVELS = {"baseline": 0, "avx2": 1, "neon": 1, "avx512": 2}


def isa_cap():
    """The level GMMFAST_ISA asks for; an unknown or unset value caps nothing."""
    return LEVELS.get(os.environ.get("GMMFAST_ISA", "avx512").lower(), 2)
