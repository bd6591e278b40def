# The m x m blocks of a row's missing features, for all components at once (included
# by _missing_rows.pyx; both routes of the row pass use them): the factors of
# P_k[M, M], their inverses where the statistics read them, and a row's solves. Each
# loop runs over the components, laid out last, so that the loops vectorise and the
# components' chains of sqrt, division and dependent subtractions overlap; per
# component the operations and their order are those of one component alone, so the
# bits do not depend on how many are taken together.


cdef void _lanes_factor(
    const double* Pt,       # IN (D, D, K) the precisions, component last
    const Py_ssize_t* Mr,   # IN (m,) the run's missing columns
    Py_ssize_t m, Py_ssize_t D, Py_ssize_t K,
    double* L,              # OUT (m, m, K) lower Cholesky factors of P_k[M, M]
    double* idg,            # OUT (m, K) 1 / L[j, j]
    double* hl,             # OUT (K,) sum_j log L[j, j] (0.5 log det P_k[M, M])
    double* prod,           # SCRATCH (K,)
    double* S,              # SCRATCH (K,)
) noexcept nogil:
    """Factor P_k[M, M] = L_k L_k^T for every component k at once. Each loop runs over
    the components: its iterations are independent, so they vectorise and the
    latencies of sqrt and division overlap, where one component's factor is a chain
    of dependent operations. Per component the operations and their order are those
    of a plain Cholesky (row by row), so the bits do not depend on K."""
    cdef Py_ssize_t i, j, c, k
    cdef const double* src
    cdef double* Lj
    cdef double* Li
    for k in range(K):
        hl[k] = 0.0
        prod[k] = 1.0
    for j in range(m):
        src = Pt + (Mr[j] * D + Mr[j]) * K
        Lj = L + j * m * K
        for k in range(K):
            S[k] = src[k]
        for c in range(j):
            for k in range(K):
                S[k] = S[k] - Lj[c * K + k] * Lj[c * K + k]
        for k in range(K):
            Lj[j * K + k] = sqrt(S[k])
            idg[j * K + k] = 1.0 / Lj[j * K + k]
            # one log per run and component rather than m: the product, taken into
            # the log before it can leave the range of doubles
            prod[k] = prod[k] * Lj[j * K + k]
        for k in range(K):
            if prod[k] > 1e100 or prod[k] < 1e-100:
                hl[k] = hl[k] + log(prod[k])
                prod[k] = 1.0
        for i in range(j + 1, m):
            src = Pt + (Mr[i] * D + Mr[j]) * K
            Li = L + i * m * K
            for k in range(K):
                S[k] = src[k]
            for c in range(j):
                for k in range(K):
                    S[k] = S[k] - Li[c * K + k] * Lj[c * K + k]
            for k in range(K):
                Li[j * K + k] = S[k] * idg[j * K + k]
    for k in range(K):
        hl[k] = hl[k] + log(prod[k])


cdef void _lanes_inverse(
    const double* L,        # IN (m, m, K) lower factors, from _lanes_factor
    const double* idg,      # IN (m, K) 1 / L[j, j]
    Py_ssize_t m, Py_ssize_t K,
    double* Li,             # SCRATCH (m, m, K) L^-1 (its lower triangle)
    double* S,              # SCRATCH (K,)
    double* Ap,             # OUT A^-1 = L^-T L^-1, its lower triangle row by row ((a, c)
                            # for c <= a), component k's from Ap[k * fs]
    Py_ssize_t fs,
) noexcept nogil:
    """The inverses of the factored P_k[M, M], every component at once (as
    _lanes_factor)."""
    cdef Py_ssize_t i, j, c, k, a, at = 0
    for j in range(m):
        for k in range(K):
            Li[(j * m + j) * K + k] = idg[j * K + k]
        for i in range(j + 1, m):
            for k in range(K):
                S[k] = 0.0
            for c in range(j, i):
                for k in range(K):
                    S[k] = S[k] + L[(i * m + c) * K + k] * Li[(c * m + j) * K + k]
            for k in range(K):
                Li[(i * m + j) * K + k] = -S[k] * idg[i * K + k]
    for a in range(m):
        for c in range(a + 1):
            # (A^-1)[c, a] = sum_{t >= a} Li[t, c] Li[t, a]
            for k in range(K):
                S[k] = 0.0
            for i in range(a, m):
                for k in range(K):
                    S[k] = S[k] + Li[(i * m + c) * K + k] * Li[(i * m + a) * K + k]
            for k in range(K):
                Ap[k * fs + at] = S[k]
            at = at + 1


#: lp - top below this: the responsibility exp(lp - top) / s is exactly 0 (exp
#: underflows to 0 below about -745.13)
cdef double RESP_UNDERFLOW = -750.0


cdef void _run_inverses(
    const double* Lf,       # IN (m, m, K) the run's factors (_lanes_factor)
    const double* idg,      # IN (m, K)
    Py_ssize_t m, Py_ssize_t K, bint tied,
    const double* lp,       # IN (rows, K) the run's rows' log-densities, complete
    Py_ssize_t n,           # the run's rows
    double* Lc,             # SCRATCH (m, m, K)
    double* idgc,           # SCRATCH (m, K)
    double* Li,             # SCRATCH (m, m, K)
    double* S,              # SCRATCH (K,)
    double* Ac,             # SCRATCH (K, m (m + 1) / 2)
    Py_ssize_t* kx,         # SCRATCH (K,)
    double* Ast, Py_ssize_t ftot, Py_ssize_t off,   # OUT component k's at Ast + k ftot + off
) noexcept nogil:
    """The run's P_k[M, M]^-1 (as _lanes_inverse leaves them) for the components whose
    statistics read them: those with a responsibility not exactly 0 in some row of
    the run (_add_runs adds nothing for the others), 'tied' the first only (the one
    precision, which _add_runs reads). Their lanes are gathered and inverted
    together; each lane's operations are those of all K at once, so the bits too.
    Most components of a well-separated mixture are 0 on most rows (digits: 99%)."""
    cdef Py_ssize_t k, r, j, t, a, nk = 0, fs = m * (m + 1) // 2
    cdef double top
    if tied:
        kx[0] = 0
        nk = 1
    else:
        for k in range(K):
            S[k] = 0.0
        for r in range(n):
            top = lp[r * K]
            for k in range(1, K):
                if lp[r * K + k] > top:
                    top = lp[r * K + k]
            for k in range(K):
                # NaN counts as wanted
                if not (lp[r * K + k] - top < RESP_UNDERFLOW):
                    S[k] = 1.0
        for k in range(K):
            if S[k] != 0.0:
                kx[nk] = k
                nk = nk + 1
    if nk == K:
        _lanes_inverse(Lf, idg, m, K, Li, S, Ast + off, ftot)
        return
    if nk == 0:
        return
    for j in range(m * m):
        for t in range(nk):
            Lc[j * nk + t] = Lf[j * K + kx[t]]
    for j in range(m):
        for t in range(nk):
            idgc[j * nk + t] = idg[j * K + kx[t]]
    _lanes_inverse(Lc, idgc, m, nk, Li, S, Ac, fs)
    for t in range(nk):
        for a in range(fs):
            Ast[kx[t] * ftot + off + a] = Ac[t * fs + a]


cdef void _lanes_solve(
    const double* L,        # IN (m, m, K) lower factors
    const double* idg,      # IN (m, K)
    const double* hl,       # IN (K,)
    Py_ssize_t m, Py_ssize_t K,
    const double* bt,       # IN (m, K) b = U_k[M, :] y
    double* tt,             # OUT -t: component k's at tt[k * ts], tt[k * ts + 1], ...
    Py_ssize_t ts,
    double* lp,             # IN (K,) the log-probabilities without the missing
                            # block's terms; OUT with them
    double* Z,              # SCRATCH (m, K)
    double* S,              # SCRATCH (K,)
) noexcept nogil:
    """One row, every component: z = L^-1 b, lp += 0.5 ||z||^2 - hl, -t = -L^-T z."""
    cdef Py_ssize_t a, c, k
    cdef double z
    if m == 1:
        # the same operations in one loop (the general case's take eight, each with
        # its own overhead, for one missing feature: most rows at small D)
        for k in range(K):
            z = bt[k] * idg[k]
            lp[k] = lp[k] + 0.5 * (z * z) - hl[k]
            tt[k * ts] = -(z * idg[k])
        return
    for a in range(m):
        for k in range(K):
            S[k] = bt[a * K + k]
        for c in range(a):
            for k in range(K):
                S[k] = S[k] - L[(a * m + c) * K + k] * Z[c * K + k]
        for k in range(K):
            Z[a * K + k] = S[k] * idg[a * K + k]
    for k in range(K):
        S[k] = 0.0
    for a in range(m):
        for k in range(K):
            S[k] = S[k] + Z[a * K + k] * Z[a * K + k]
    for k in range(K):
        lp[k] = lp[k] + 0.5 * S[k] - hl[k]
    for a in range(m - 1, -1, -1):
        for k in range(K):
            S[k] = Z[a * K + k]
        for c in range(a + 1, m):
            for k in range(K):
                S[k] = S[k] - L[(c * m + a) * K + k] * Z[c * K + k]
        for k in range(K):
            Z[a * K + k] = S[k] * idg[a * K + k]
            tt[k * ts + a] = -Z[a * K + k]
