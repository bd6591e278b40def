"""Tables from a bench_fit report: plain text for the terminal, Markdown for RESULTS.md.

Column names are the same in both; bench/README.md defines each one.
"""

import math
import re
from pathlib import Path

MARK_BEGIN = "<!-- bench_fit:begin -->"
MARK_END = "<!-- bench_fit:end -->"


# ---------------------------------------------------------------------------- formatting


def _num(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def _sci(x):
    return "-" if x is None or not math.isfinite(x) else f"{x:.1e}"


def _signed(x):
    return "-" if x is None or not math.isfinite(x) else f"{x:+.2e}"


# ---------------------------------------------------------------------------- columns


def iter_columns(threads):
    t_min, t_max = min(threads), max(threads)
    return (
        ["case", "N", "D", "K", "cov", "iters"]
        + [f"sk_{t}t" for t in threads]
        + [f"gf_{t}t" for t in threads]
        + [f"sk_best/gf_{t_max}t", f"speedup_{t_max}t/{t_min}t", "bound", f"bound/gf_{t_max}t", "ll_gap"]
    )


E2E_COLUMNS = [
    "case", "sk_s", "gf_s", "sk/gf", "sk_iter", "gf_iter", "sk_ll", "gf_ll", "ll_diff",
    "lb_diff", "X_MB", "sk_MB", "gf_MB",
]


def iter_rows(report):
    threads = report["threads"]
    rows = []
    for r in report["results"]:
        head = [r["case"], str(r["n_samples"]), str(r["n_features"]), str(r["n_components"]),
                r["covariance_type"]]
        it = r.get("iter")
        if it is None:
            if "iter_error" in r:
                rows.append(head + ["error"] + [""] * (len(iter_columns(threads)) - len(head) - 1))
            continue
        ms = it["per_iter_s"]
        rows.append(
            head
            + [str(it["n_iter"])]
            + [_num(1e3 * ms[f"sklearn@{t}t"]) for t in threads]
            + [_num(1e3 * ms[f"gmmfast@{t}t"]) for t in threads]
            + [
                _num(it["ratio_sklearn_best_over_gmmfast"]),
                _num(it["speedup_gmmfast"]),
                _num(1e3 * it["lower_bound_time_s"]),
                _num(it["fraction_of_bound"], 2),
                _sci(it["lower_bound_gap"]),
            ]
        )
    return rows


def e2e_rows(report):
    rows = []
    for r in report["results"]:
        e = r.get("e2e")
        if e is None:
            if "e2e_error" in r:
                rows.append([r["case"], "error"] + [""] * (len(E2E_COLUMNS) - 2))
            continue
        sk, gf = e["sklearn"], e["gmmfast"]
        rows.append([
            r["case"],
            _num(sk["seconds"]), _num(gf["seconds"]), _num(e["ratio_sklearn_over_gmmfast"]),
            str(sk["n_iter"]) + ("" if sk["converged"] else "*"),
            str(gf["n_iter"]) + ("" if gf["converged"] else "*"),
            f"{sk['score']:.4f}", f"{gf['score']:.4f}", _signed(e["score_diff"]),
            _signed(e.get("lower_bound_diff", float("nan"))), _num(e["x_mb"]), _num(sk["peak_mb"]), _num(gf["peak_mb"]),
        ])
    return rows


# ---------------------------------------------------------------------------- text


def _text_table(columns, rows):
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c)
              for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(columns, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w)
                               for i, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def _settings_line(report):
    t_max = max(report["threads"])
    return (
        f"threads {','.join(map(str, report['threads']))}; repeats {report['repeats']} "
        f"(best kept); end to end on {t_max} thread(s), {report['e2e_repeats']} fit(s) per "
        f"implementation{'; QUICK mode (small sizes, timings not meaningful)' if report['quick'] else ''}"
    )


def text_report(report):
    parts = []
    m = report["machine"]
    parts.append(f"{m['cpu']}, {m['cores']}; numpy {m['numpy']}, scipy {m['scipy']}, "
                 f"scikit-learn {m['scikit-learn']}, gmmfast {m['gmmfast']}")
    parts.append(_settings_line(report))
    parts.append(_rates_line(report))
    if any("iter" in r or "iter_error" in r for r in report["results"]):
        parts += ["", "Per EM iteration, same initialisation, tol=0 (milliseconds per iteration)",
                  _text_table(iter_columns(report["threads"]), iter_rows(report))]
    if any("e2e" in r or "e2e_error" in r for r in report["results"]):
        parts += ["", "End to end, default settings (k-means init, tol=1e-3, random_state=0); "
                      "* = stopped at max_iter",
                  _text_table(E2E_COLUMNS, e2e_rows(report))]
    return "\n".join(parts)


def _rates_line(report):
    return "one-thread rates: " + "; ".join(
        f"{dt} GEMM {r['gemm_flops'] / 1e9:.1f} Gflop/s, exp {r['exp_per_s'] / 1e9:.2f} G/s"
        for dt, r in report["rates"].items()
    )


def iter_summary(it, threads):
    t_max = max(threads)
    return (
        f"sklearn best {1e3 * it['sklearn_best_s']:.3g} ms, "
        f"gmmfast {t_max}t {1e3 * it['per_iter_s'][f'gmmfast@{t_max}t']:.3g} ms, "
        f"ratio {it['ratio_sklearn_best_over_gmmfast']:.3g}, "
        f"bound/gmmfast {it['fraction_of_bound']:.2g}"
    )


def e2e_summary(e):
    sk, gf = e["sklearn"], e["gmmfast"]
    return (
        f"sklearn {sk['seconds']:.3g} s / {sk['n_iter']} it / {sk['peak_mb']:.0f} MB, "
        f"gmmfast {gf['seconds']:.3g} s / {gf['n_iter']} it / {gf['peak_mb']:.0f} MB, "
        f"loglik diff {e['score_diff']:+.2e}, "
        f"lower bound diff {e.get('lower_bound_diff', float('nan')):+.2e}"
    )


# ---------------------------------------------------------------------------- markdown


def _md_table(columns, rows):
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(report):
    m = report["machine"]
    out = [MARK_BEGIN, ""]
    out.append(f"### {m['date']}{' (quick mode)' if report['quick'] else ''}")
    out.append("")
    for key in ("cpu", "cores", "platform", "python", "numpy", "scipy", "scikit-learn",
                "gmmfast", "gmmfast config", "git commit", "thread pools"):
        value = m.get(key)
        if value:
            value = " ".join(str(value).split())
            out.append(f"- **{key}**: {value}")
    out.append("- **one-thread rates**: " + _rates_line(report)[len("one-thread rates: "):])
    out.append(f"- **settings**: {_settings_line(report)}")
    out.append(f"- **command**: `{report['command']}` ({report['wall_seconds']:.0f} s)")
    out.append("")
    if any("iter" in r for r in report["results"]):
        out += ["Per EM iteration, same initialisation, tol=0; milliseconds per iteration "
                "(difference of max_iter=1 and max_iter=1+iters runs).", "",
                _md_table(iter_columns(report["threads"]), iter_rows(report)), ""]
    if any("e2e" in r for r in report["results"]):
        out += ["End to end, default settings (k-means init, tol=1e-3, random_state=0), "
                "each fit in a fresh process; * = stopped at max_iter.", "",
                _md_table(E2E_COLUMNS, e2e_rows(report)), ""]
    out.append(MARK_END)
    return "\n".join(out) + "\n"


def write_markdown(path, section, begin=MARK_BEGIN, end=MARK_END):
    """Put ``section`` between the markers ``begin`` and ``end`` of ``path`` (bench_fit's
    by default), or append it."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + section
    path.write_text(text)
