# The row pass's statistics slots (included by _missing_rows.pyx, whose module doc
# describes the pass): how many blocks a slot takes, how many slots a round, and
# their sums into the total in block order, the same whatever the threads.

#: doubles of the statistics slots of one round (32 MiB): bounds the memory of the
#: rounds whatever the number of rows
cdef Py_ssize_t SLOT_BUDGET = 1 << 22


#: a pass's blocks share slots, a run of consecutive blocks each, so that at most
#: about this many slots are filled and added into the total: a slot is the whole of
#: the statistics (K D^2 doubles and more), and filled and added once per block the
#: slots' traffic grew with the blocks, not with the statistics (on 50,000 x 64 rows,
#: K = 32, 128 blocks moved 1.6 MB each through memory twice every pass). The run's
#: length comes from the number of blocks alone, never from the threads, so the sums
#: are grouped alike on any thread count.
SLOTS_PER_PASS = 32
cdef Py_ssize_t SLOT_BLOCKS = 0


def _setting(value, least, what):
    """A test hook's new integer setting, at least ``least``."""
    if int(value) < least:
        raise ValueError(f"{what} must be at least {least}; got {value!r}")
    return int(value)


def slot_blocks(blocks=None):
    """The blocks a slot takes: 0 (the default) for max(1, blocks // SLOTS_PER_PASS),
    else that many (a test hook: the slots' runs change how the sums are grouped, so
    the results' last bits, but not with the threads or the rounds). Returns the
    setting before; with None, only that."""
    global SLOT_BLOCKS
    before = SLOT_BLOCKS
    if blocks is not None:
        SLOT_BLOCKS = _setting(blocks, 0, "the blocks a slot")
    return before


def slot_budget(doubles=None):
    """The doubles of a round's statistics slots (a round: at least two slots per
    thread, whatever the budget). Returns the budget before; with None, only that.
    The blocks' slots are added into the total in block order, so the budget, like
    the threads, changes no bit of the results: for the tests, which check that."""
    global SLOT_BUDGET
    before = SLOT_BUDGET
    if doubles is not None:
        SLOT_BUDGET = _setting(doubles, 1, "the slot budget (doubles)")
    return before


#: doubles of a round's slots that a thread adds at a time (_add_slots)
cdef Py_ssize_t ADD_CHUNK = 4096


cdef void _add_slots(const double* slots, Py_ssize_t nr, Py_ssize_t SB, double* acc,
                     bint moments, bint tied, Py_ssize_t Kt, Py_ssize_t D, Py_ssize_t S,
                     Py_ssize_t s_head, int nt, Py_ssize_t n_plain=0) noexcept nogil:
    """acc[j] += the nr slots' entry j, in block order, for every entry j of a slot
    (n_plain > 0: its first n_plain, every one, from the slots whose entry before the
    first, a flag, is not 0; else the moment rows': all SB; the other route's: its S
    statistics, the T2s' lower triangles only, the T2 of a
    component no block of the slot wrote skipped, as it holds 0 or less, having not been
    zeroed). Each entry's sum takes the blocks in order whatever thread adds it: the
    same sums whatever the threads and the rounds. The entries in chunks over nt
    threads (one chunk, or one thread: no parallel region, whose barriers cost more
    than a small pass's sums)."""
    cdef Py_ssize_t n_entries = n_plain if n_plain > 0 else (SB if moments else S)
    cdef Py_ssize_t n_chunks = (n_entries + ADD_CHUNK - 1) // ADD_CHUNK
    cdef Py_ssize_t ch
    if nt == 1 or n_chunks == 1:
        for ch in range(n_chunks):
            _add_chunk(slots, nr, SB, acc, moments, tied, Kt, D, S, s_head, n_plain,
                       n_entries, ch)
        return
    for ch in prange(n_chunks, num_threads=nt, schedule='static'):
        _add_chunk(slots, nr, SB, acc, moments, tied, Kt, D, S, s_head, n_plain,
                   n_entries, ch)


cdef void _add_chunk(const double* slots, Py_ssize_t nr, Py_ssize_t SB, double* acc,
                     bint moments, bint tied, Py_ssize_t Kt, Py_ssize_t D, Py_ssize_t S,
                     Py_ssize_t s_head, Py_ssize_t n_plain, Py_ssize_t n_entries,
                     Py_ssize_t ch) noexcept nogil:
    """_add_slots' chunk ch of the entries."""
    cdef Py_ssize_t t2_end = s_head + Kt * D * D
    cdef Py_ssize_t j0, j1, c, j, e, f, t, a, b, r
    cdef const double* slot
    j0 = ch * ADD_CHUNK
    j1 = min(j0 + ADD_CHUNK, n_entries)
    for c in range(nr):
        slot = slots + c * SB
        if n_plain > 0 and slot[-1] == 0.0:
            continue
        j = j0
        while j < j1:
            if moments or j >= t2_end:
                e = j1
            elif j < s_head:
                e = min(j1, s_head)
            else:   # component f's T2, added only where the block wrote it
                f = (j - s_head) // (D * D)
                e = min(j1, s_head + (f + 1) * D * D)
                if not tied and slot[S + f] == 0.0:
                    j = e
                    continue
                # its lower triangle (row >= column), row by row: the upper is
                # never read (rows_pass mirrors the total's lower triangle at the
                # end), nor always written
                while j < e:
                    t = j - s_head - f * D * D
                    a = t // D
                    b = t - a * D
                    if b > a:       # past the row's diagonal: the next row
                        j = j + D - b
                        continue
                    r = min(e, j + a + 1 - b)
                    while j < r:
                        acc[j] = acc[j] + slot[j]
                        j = j + 1
                continue
            while j < e:
                acc[j] = acc[j] + slot[j]
                j = j + 1
