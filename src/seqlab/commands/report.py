"""``seqlab report``: write the HTML/PNG/Markdown report from the results store."""

from __future__ import annotations

from pathlib import Path

NAME = "report"
HELP = "write the benchmark report (HTML + PNG + Markdown) from the results store"


def add_arguments(p):
    p.add_argument("--store", default="results/bench.sqlite", help="results store (SQLite)")
    p.add_argument("--out", default="report", help="report folder")
    p.add_argument("--suite", default="default", help="report this suite's runs plus the claims' runs")
    p.add_argument("--all", action="store_true", help="report every stored run")
    p.add_argument("--speed", default=None, help="speed JSON (default: results/speed.json)")


def report_keys(suite: str) -> list[str]:
    """The runs a report shows: the suite's plus every paper claim's."""
    from seqlab.bench.grid import load_suite
    from seqlab.papers.claims import CLAIMS

    keys = [r.key() for r in load_suite(suite, check=False).runs]
    return keys + [k for c in CLAIMS.values() for k in c.keys()]


def build_report(store, out: Path, *, keys=None, title="seqlab benchmark report", speed=None) -> Path:
    """The one report of ``store``: every registered section (bench, claims, speed, ...) of its rows.

    ``keys`` limits the bench rows to those keys; rows of other kinds are always included.
    """
    import seqlab.bench.speed.section  # noqa: F401  (registers the speed section of store rows)
    import seqlab.continual.report  # noqa: F401  (registers the continual section)
    from seqlab.bench.findings import evaluate_findings
    from seqlab.bench.report import write_report
    from seqlab.experiments.claim import claims_html, claims_markdown
    from seqlab.experiments.report import Section
    from seqlab.papers.claims import evaluate_all

    wanted = None if keys is None else set(keys)
    rows = [r for r in store.rows() if wanted is None or r["kind"] != "bench" or r["key"] in wanted]
    claims = []
    for heading, results, order in (
        ("Default-suite findings (claims)", evaluate_findings(store), 10),
        ("Paper claims", evaluate_all(store), 20),
    ):
        claims.append(
            Section(heading, html=claims_html(results), markdown=claims_markdown(results), order=order)
        )
    return write_report(
        rows,
        out,
        title=title,
        claims=claims,
        speed_json=speed,
        current_version=store.code_version,
    )


def run(args) -> int:
    from seqlab.experiments.store import ResultStore

    if not Path(args.store).is_file():  # never create an empty store just to report on it
        raise FileNotFoundError(f"results store {args.store} does not exist; run `seqlab bench` first")
    keys = None if args.all else report_keys(args.suite)
    with ResultStore(args.store) as store:
        path = build_report(store, Path(args.out), keys=keys, speed=args.speed)
    print(f"report: {path.resolve()}")
    return 0
