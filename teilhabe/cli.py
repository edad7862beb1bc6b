"""``teilhabe``: the user-facing verbs (simulate, run, check, publish, digest, status, bench, rebuild,
dev, linkage)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from teilhabe.settings import PRIVATE_UMASK, REPO_ROOT, quiet_telemetry, settings


def _years(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        years = (int(first), int(last or first))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY or YYYY-YYYY, got {text!r}") from None
    if years[0] > years[1] or not 2000 <= years[0] <= 2100:
        raise argparse.ArgumentTypeError(f"expected YYYY or YYYY-YYYY with first <= last, got {text!r}")
    return years


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text!r}")
    return value


def cmd_simulate(args: argparse.Namespace) -> int:
    from teilhabe.simulate import simulate

    report = simulate(
        out=args.out,
        profile=args.profile,
        years=args.years,
        seed=args.seed,
        defect_rate=args.defects,
        truth_dir=args.truth,
        progress=not args.quiet,
        name_error_rate=args.name_errors,
        decoy_share=args.decoys,
    )
    print(report.summary())
    return 0


def refuse(message: str) -> int:
    """A command-line refusal: one line on stderr, exit code 2, before anything starts."""
    print(f"teilhabe: {message}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    from ingest.ops_tables import warehouse_key_problem
    from ingest.pseudonymise import KeyProblem, load_key
    from teilhabe.disk import StorageError, require_free_space

    config = settings()
    home = config.home
    inbox = Path(args.inbox).resolve() if args.inbox else home.inbox
    if args.inbox and not inbox.is_dir():
        return refuse(f"no inbox folder at {inbox}")
    if not config.home_named and not args.demo and not home.warehouse.exists():
        # a timer without its environment file, or a shell in another folder, would take the real
        # inbox's files into a new, empty warehouse in ./data (an operator review)
        return refuse(
            f"TEILHABE_HOME is not set and {home.root} holds no warehouse: set TEILHABE_HOME to the data "
            "home (a new one is made where it points)"
        )
    try:
        require_free_space(home.root, "teilhabe run", keep_free=config.min_free_bytes)
        # a key that cannot be used is refused before anything is read
        key = load_key(config.pseudonym_key, config.pseudonym_key_file, home.warehouse)
    except (StorageError, KeyProblem) as problem:
        return refuse(str(problem))
    if problem := warehouse_key_problem(home.warehouse, key):
        return refuse(problem)
    if key.created:
        print(f"No pseudonym key configured: created a random key in {key.source} (keep it safe; set")
        print("TEILHABE_PSEUDONYM_KEY or TEILHABE_PSEUDONYM_KEY_FILE to use your own).")
    home.ensure()
    if args.demo and not any(inbox.iterdir()) and not home.warehouse.exists():
        from teilhabe.simulate import simulate

        print(f"No inbox given: simulating the demo profile into {inbox}")
        print(simulate(out=inbox, profile="demo", years=(2023, 2024), seed=7, progress=False).summary())
    from ingest.run_state import nothing_to_do

    if nothing_to_do(home.warehouse, inbox, home.linkage_decisions):
        from teilhabe.settings import tighten_and_say

        print("nothing new or changed since the last complete run: no ingest, build or publication")
        if warning := tighten_and_say(home):  # the data home stays private however a run ends
            print(f"warning: {warning}")
        print(f"inbox           {inbox}")
        return 0
    if problem := _configuration_problem():
        return refuse(problem)
    from orchestration.pipeline import run_pipeline

    result = run_pipeline(home, inbox)
    print(result.summary())
    print()
    for label, path in (
        ("inbox", inbox),
        ("warehouse", home.warehouse),
        ("analysts' copy", home.analysts_copy),
        ("extracts", home.outbox),
    ):
        built = path.exists() and (path.is_file() or any(path.iterdir()))
        note = "  (empty: every file taken is in the archive)" if label == "inbox" else "  (not built yet)"
        print(f"{label:<16}{path}{'' if built else note}")
    print("the run, its checks and its log in the Dagster UI: make dev (http://127.0.0.1:3000)")
    return 0 if result.ok else 1  # a partner blocked by its checks is no success


def _configuration_problem() -> str | None:
    """partners.yaml and senders.yaml checked before a run takes a file: a broken one was a
    traceback that named neither the file nor the line, and a broken senders.yaml failed the run
    only after its extracts were delivered (an operator's review)."""
    from publish.partners import PartnerConfigError, load_partners
    from publish.senders import SenderConfigError, load_senders

    try:
        load_partners()
        load_senders()
    except (PartnerConfigError, SenderConfigError) as problem:
        return str(problem)
    return None


def cmd_check(args: argparse.Namespace) -> int:
    """Check export files before sending them: the pipeline's own readers and contracts, no
    warehouse. For the agencies that send, so in German."""
    from ingest.checking import HELD_HINT, check_files, compared_example

    known = None
    if args.register:
        from ingest.readers import read_delivery

        if not args.register.is_file():
            return refuse(f"keine Datei: {args.register}")
        register = read_delivery(args.register.name, args.register.read_bytes())
        if register.rejected or "lv_werkstaetten" not in register.tables:
            reason = register.issues[0].message if register.issues else "?"
            return refuse(f"{args.register}: kein verwendbares Werkstättenverzeichnis: {reason}")
        known = set(register.tables["lv_werkstaetten"]["Werkstatt-Nr."].drop_nulls())
    missing = [p for p in args.files if not p.is_file()]
    if missing:
        return refuse(f"keine Datei: {', '.join(map(str, missing))}")
    checked = check_files(list(args.files), known, settings().limits)
    for item in checked:
        print(f"{item.name}: {item.verdict}")
        if item.recognised:
            print(f"  {item.recognised}")
        for issue in item.findings:
            held_line = item.outcome.held_because and issue.level == "file"  # held, not refused: say so
            print(f"  {issue.line('GEHALTEN' if held_line else None)}")
    if any(item.outcome.held_because for item in checked):
        print(f"({HELD_HINT})")
    if known is None and any(
        item.outcome.delivery and item.outcome.delivery.format.startswith("wfbm") for item in checked
    ):
        print(
            "(Werkstatt-Nr. nicht gegen das Verzeichnis geprüft: --register lv_<LV>_werkstaetten.csv angeben)"
        )
    loadable = [item for item in checked if not item.outcome.rejected_because]
    if loadable:  # what only the warehouse can tell
        example = compared_example([item.outcome.delivery for item in loadable])
        print(
            f"(Nicht verglichen mit Ihren früheren Lieferungen, {example}: "
            "das tun der Prüfordner pruefen/ im Eingang und die Rückmeldung nach der Lieferung)"
        )
    if any(item.refused for item in checked):
        return 1
    # 3, not 2: 2 is a check that could not be made (no such file, wrong arguments), as argparse's
    # and ``refuse``'s; a sender's script told the two apart by nothing (an operator review)
    return 3 if any(item.outcome.rows_quarantined for item in checked) else 0


class _GermanHelp(argparse.HelpFormatter):
    """`teilhabe check --help` for senders: "Aufruf" instead of argparse's "usage"."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, prefix="Aufruf: ")


def cmd_publish(args: argparse.Namespace) -> int:
    """Re-issue a period's extracts (a new version only where the figures changed)."""
    import datetime as dt

    from publish.partners import load_partners
    from publish.periods import period_kind, period_problem
    from publish.step import mismatch

    if problem := period_problem(args.period, dt.date.today()):
        return refuse(problem)
    kind = period_kind(args.period)
    known = {p.id: p for p in load_partners()}
    for ident in args.partner or []:
        if ident not in known:
            return refuse(
                f"unknown partner {ident!r} (see partners.yaml; Jobcenters are jobcenter_<Kreisschlüssel>)"
            )
        if known[ident].period != kind:
            return refuse(mismatch(known[ident], args.period))
    home = settings().home
    if not home.warehouse.exists():
        return refuse(f"no warehouse at {home.warehouse} yet: run `teilhabe run` first")
    from orchestration.pipeline import run_publish

    result = run_publish(home, args.partner or [], args.period, args.without_waiting)
    print(result.summary())
    if result.materialized:  # else nothing was written, and the summary says why
        partner = args.partner[0] if args.partner and len(args.partner) == 1 else "<partner>"
        print(f"extracts        {home.outbox}/{partner}/{args.period}/latest")
    return 0 if result.ok else 1  # a partner blocked by its checks is no success


def cmd_digest(_: argparse.Namespace) -> int:
    """Write and print the digest of overdue and late deliveries (as the daily schedule does)."""
    import datetime as dt

    home = settings().home
    if not home.warehouse.exists():
        return refuse(f"no warehouse at {home.warehouse} yet: run `teilhabe run` first")
    from orchestration.pipeline import run_digest

    result = run_digest(home)
    written = home.operations_reports / f"digest-{dt.date.today():%Y-%m-%d}.txt"
    if result.success and written.exists():
        print(written.read_text("utf-8"), end="")
        print(f"digest          {written} (and .csv)")
    else:
        print(result.summary())
    return 0 if result.success else 1


def cmd_status(_: argparse.Namespace) -> int:
    """The newest runs and what waits for the operator; exit code 1 where something does (for a
    monitoring check), 0 where nothing does."""
    from orchestration.status import status

    report = status(settings().home)
    print(report.text(), end="")
    return 0 if report.healthy else 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    """A new data home built from this one's archive under the current key (after a key change):
    every delivery taken again in the order it arrived, then the whole pipeline."""
    import duckdb

    from ingest.load import replay
    from ingest.ops_tables import carry_over
    from ingest.pseudonymise import KeyProblem, load_key
    from teilhabe.settings import DataHome

    config = settings()
    old, new = config.home, DataHome(args.to.resolve())
    if not old.warehouse.exists():
        return refuse(f"no warehouse to rebuild from at {old.warehouse}")
    if new.root.exists() and any(new.root.iterdir()):
        return refuse(f"{new.root} is not empty: a rebuild makes a new data home")
    try:
        key = load_key(config.pseudonym_key, config.pseudonym_key_file)
    except KeyProblem as problem:
        return refuse(str(problem))
    with duckdb.connect(str(old.warehouse), read_only=True) as con:
        deliveries = con.execute(
            "select file_name, sha256, bytes, file_mtime_ns, received_at from ops.delivery_log order by delivery_id"
        ).fetchall()
    new.ensure()
    if old.linkage_decisions.exists():  # the operator's decisions name records by ids a key keeps
        new.linkage_decisions.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(old.linkage_decisions, new.linkage_decisions)
    with duckdb.connect(str(new.warehouse)) as con:
        report = replay(
            con, deliveries, old.archive, new.archive, key,
            limits=config.limits, chunk_files=config.ingest_chunk_files,
        )  # fmt: skip
        carry_over(old.warehouse, con)
    if old.outbox.exists():  # partners' versions go on: equal figures make no new version
        shutil.copytree(old.outbox, new.outbox, symlinks=True, dirs_exist_ok=True)
    print(f"rebuilt {new.root} from the archive of {old.root}: {report.summary()}")
    if report.skipped_known:
        print(f"({report.skipped_known} deliveries were no longer in the archive: removed by its retention)")
    from orchestration.pipeline import run_pipeline

    result = run_pipeline(new, new.inbox)
    print(result.summary())
    return 0 if result.ok else 1  # a partner blocked by its checks is no success


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the whole pipeline on simulated inboxes, stage by stage, against a plain-DuckDB baseline."""
    from teilhabe.bench import run_benchmark
    from teilhabe.bench.scenarios import DEFAULT_SCENARIOS

    work = (args.work or settings().home.root / "bench").resolve()
    return run_benchmark(args.scenario or list(DEFAULT_SCENARIOS), work)


def cmd_linkage_evaluate(args: argparse.Namespace) -> int:
    """Precision, recall and F1 of the linkage on a known truth, through the keyed encodings."""
    from linkage.evaluate import evaluate_febrl4

    if args.truth:
        return _evaluate_simulation(args.truth)
    if not args.febrl4:
        return refuse("say which truth to evaluate against: --febrl4, or --truth <inbox>.truth")
    for label, quality in evaluate_febrl4(args.sample).items():
        print(f"FEBRL4, given name, surname, date of birth; {label}: {quality.summary()}")
    return 0


def _evaluate_simulation(truth: Path) -> int:
    import duckdb

    from ingest.pseudonymise import load_key
    from linkage.evaluate import evaluate_simulation

    config = settings()
    if not (truth / "identities.csv").exists():
        return refuse(f"{truth} holds no identities.csv: the ground truth of `teilhabe simulate`")
    try:
        con = duckdb.connect(str(config.home.warehouse), read_only=True)
    except duckdb.Error as error:
        return refuse(f"cannot open the warehouse {config.home.warehouse}: {error}")
    key = load_key(config.pseudonym_key, config.pseudonym_key_file)
    try:
        linkage, exact, by_error = evaluate_simulation(con, truth, key.secret)
    finally:
        con.close()
    print(f"cross-agency links, linkage: {linkage.summary()}")
    print(f"cross-agency links, exact keyed hash alone: {exact.summary()}")
    for row in by_error.iter_rows(named=True):
        print(
            f"  {row['error']:<20} {row['true_links']:>6} true links: {row['found']:>6} found "
            f"({row['found_by_exact_key']} by the exact key)"
        )
    return 0


def cmd_linkage_review(args: argparse.Namespace) -> int:
    """The pairs the model left for review, with both records' plaintext from the archive; at a
    terminal, each one decided (accept/reject) into the decisions file the next run applies."""
    import duckdb

    from ingest.pseudonymise import load_key
    from linkage.decisions import record_decision
    from linkage.review import pairs_for_review

    config = settings()
    home = config.home
    if not home.warehouse.exists():
        return refuse(f"no warehouse in {home.root}: run the pipeline first")
    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.IOException:
        return refuse("the warehouse is in use by a run: try again when it has finished")
    key = load_key(config.pseudonym_key, config.pseudonym_key_file)
    try:
        pairs = pairs_for_review(con, home.archive, key.secret, args.limit, config.limits)
    finally:
        con.close()
    if not pairs:
        print("Keine Paare zur Prüfung.")
        return 0
    interactive = sys.stdin.isatty() and not args.list
    for pair in pairs:
        print(pair.text())
        if not interactive:
            continue
        answer = (
            input("  [a]nnehmen (dieselbe Person), [v]erwerfen, [s]päter, [b]eenden? ").strip().lower()[:1]
        )
        if answer == "b":
            break
        if answer in ("a", "v"):
            decision = "accept" if answer == "a" else "reject"
            record_decision(home.linkage_decisions, pair.record_l, pair.record_r, decision)
            print(f"  -> {decision} in {home.linkage_decisions} (gilt ab dem nächsten Lauf)")
    return 0


def cmd_linkage_decide(args: argparse.Namespace) -> int:
    """Records one decision on a pair of records (ids from ``teilhabe linkage review``)."""
    from linkage.decisions import record_decision

    home = settings().home
    try:
        record_decision(home.linkage_decisions, args.record_l, args.record_r, args.decision, args.note or "")
    except ValueError as error:
        return refuse(str(error))
    print(
        f"{args.decision}: {args.record_l} / {args.record_r} -> {home.linkage_decisions} (applies from the next run)"
    )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    home = settings().home.ensure()
    dagster = Path(sys.executable).with_name("dagster")
    # From the project folder, `dagster dev` takes module and code location name from pyproject.toml:
    # the name the command line's runs are tagged with (orchestration.CODE_LOCATION).
    os.chdir(REPO_ROOT)
    environment = {**os.environ, "DAGSTER_HOME": str(home.dagster_home), "TEILHABE_HOME": str(home.root)}
    os.execve(dagster, [str(dagster), "dev", "--port", str(args.port)], environment)  # noqa: S606
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teilhabe", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    sim = verbs.add_parser(
        "simulate", help="write a realistic inbox of agency exports (and its ground truth)"
    )
    sim.add_argument("--out", required=True, type=Path, help="the inbox folder to write")
    sim.add_argument("--profile", choices=["demo", "nrw"], default="demo")
    sim.add_argument("--years", type=_years, default=(2023, 2024), help="YYYY-YYYY (default 2023-2024)")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--defects", type=_rate, default=0.0, help="share of files with an injected fault")
    sim.add_argument(
        "--name-errors",
        type=_rate,
        default=0.05,
        metavar="RATE",
        help="share of (person, agency) records with a typing, name or birth-date error (default 0.05)",
    )
    sim.add_argument(
        "--decoys",
        type=_rate,
        default=0.01,
        metavar="SHARE",
        help="share of people who are near-twins of another: same birth date, similar name (default 0.01)",
    )
    sim.add_argument("--truth", type=Path, default=None, help="ground-truth folder (default: OUT.truth)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=cmd_simulate)

    run = verbs.add_parser("run", help="run the whole pipeline on an inbox")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--inbox", type=Path, help="the drop folder to take deliveries from")
    source.add_argument(
        "--demo",
        action="store_true",
        help="simulate a demo inbox first if the inbox is empty and nothing was loaded yet",
    )
    run.set_defaults(func=cmd_run)

    check = verbs.add_parser(
        "check",
        help="check export files before sending them (no warehouse touched)",
        # in German: senders run it (the Rückmeldung tells them how)
        description="Prüft Meldedateien vor dem Senden, mit denselben Prüfungen wie beim Eingang; nichts "
        "wird übertragen oder gespeichert. Rückgabewert 0: jede Zeile würde geladen; 1: eine Datei würde "
        "abgelehnt oder gehalten; 2: die Prüfung war nicht möglich (keine solche Datei, falscher Aufruf); "
        "3: die Dateien würden geladen, aber Zeilen zurückgestellt.",
        add_help=False,
        formatter_class=_GermanHelp,
    )
    check._positionals.title, check._optionals.title = "Dateien", "Optionen"
    check.add_argument("-h", "--help", action="help", help="diese Hilfe zeigen und beenden")
    check.add_argument(
        "files", nargs="+", type=Path, metavar="DATEI", help="die zu prüfenden Dateien (CSV, XLSX)"
    )
    check.add_argument(
        "--register",
        type=Path,
        metavar="VERZEICHNIS",
        help="das Werkstättenverzeichnis des Landschaftsverbands (lv_<LV>_werkstaetten.csv), um die "
        "Werkstatt-Nr. zu prüfen",
    )
    check.set_defaults(func=cmd_check)

    pub = verbs.add_parser("publish", help="(re-)issue the partner extracts of a period")
    pub.add_argument("--period", required=True, help="JJJJ-MM, JJJJ-Qn or JJJJ (the partners' period kind)")
    pub.add_argument(
        "--partner",
        action="append",
        help="partner id of partners.yaml (repeatable; default: all of the period's kind)",
    )
    pub.add_argument(
        "--without-waiting",
        action="store_true",
        help="a Landschaftsverband's yearly report before its Leistungsdokumentation (K12 says it is missing)",
    )
    pub.set_defaults(func=cmd_publish)

    digest = verbs.add_parser(
        "digest", help="overdue and late deliveries, for the operator (reports/operations/)"
    )
    digest.set_defaults(func=cmd_digest)
    verbs.add_parser(
        "status", help="the newest runs and what waits for the operator (exit 1 where something does)"
    ).set_defaults(func=cmd_status)

    from teilhabe.bench.scenarios import DEFAULT_SCENARIOS as DEFAULT_BENCH
    from teilhabe.bench.scenarios import SCENARIOS

    bench = verbs.add_parser("bench", help="measure the whole pipeline, stage by stage, against a baseline")
    bench.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help=f"repeatable; default: {' '.join(DEFAULT_BENCH)}",
    )
    bench.add_argument("--work", type=Path, help="inboxes, data homes and results (default: DATA_HOME/bench)")
    bench.set_defaults(func=cmd_bench)

    rebuild = verbs.add_parser(
        "rebuild",
        help="build a new data home from this one's archive under the current key (after a key change)",
    )
    rebuild.add_argument("--to", required=True, type=Path, help="the new data home (an empty folder)")
    rebuild.set_defaults(func=cmd_rebuild)

    _add_linkage_verbs(verbs)

    dev = verbs.add_parser("dev", help="the Dagster UI on this data home")
    dev.add_argument("--port", type=int, default=3000, help="the UI's port (default 3000)")
    dev.set_defaults(func=cmd_dev)
    return parser


def _add_linkage_verbs(verbs) -> None:
    linkage = verbs.add_parser("linkage", help="linking people across agencies (spec/linkage.md)")
    linkage_verbs = linkage.add_subparsers(dest="linkage_verb", required=True, metavar="VERB")
    evaluate = linkage_verbs.add_parser("evaluate", help="precision, recall and F1 against a known truth")
    evaluate.add_argument("--febrl4", action="store_true", help="the public FEBRL4 benchmark (5,000 x 5,000)")
    evaluate.add_argument("--sample", type=int, help="only the first N persons of each file")
    evaluate.add_argument(
        "--truth", type=Path, help="a simulated inbox's ground truth (<inbox>.truth) against this data home"
    )
    evaluate.set_defaults(func=cmd_linkage_evaluate)
    review = linkage_verbs.add_parser(
        "review", help="pairs left for clerical review, with both records' plaintext from the archive"
    )
    review.add_argument("--limit", type=int, default=20, help="at most N pairs, most probable first")
    review.add_argument("--list", action="store_true", help="only list them, even at a terminal")
    review.set_defaults(func=cmd_linkage_review)
    decide = linkage_verbs.add_parser("decide", help="accept or reject one pair (overrides the model)")
    decide.add_argument("record_l", help="record id (from `teilhabe linkage review`)")
    decide.add_argument("record_r", help="the other record's id")
    decide.add_argument("decision", choices=["accept", "reject"])
    decide.add_argument("--note", help="why (kept in the decisions file)")
    decide.set_defaults(func=cmd_linkage_decide)
    retrain = linkage_verbs.add_parser(
        "retrain", help="train the model again on all records at the next run, and score every pair anew"
    )
    retrain.add_argument("--note", help="why (kept in the request until the run has done it)")
    retrain.set_defaults(func=cmd_linkage_retrain)


def cmd_linkage_retrain(args: argparse.Namespace) -> int:
    """Asks the next run to train the linkage model again (otherwise it is trained again once the
    records have doubled): after a fix of the training, or when the deliveries changed in kind."""
    from linkage.decisions import request_retraining

    request = request_retraining(settings().home.linkage_decisions, args.note or "")
    print(
        f"retraining requested ({request}): the next run trains the model on all records, scores every "
        "pair anew and rebuilds the figures; person_ids are kept as on every run"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # everything the tool writes is its user's alone (privacy.md §2)
    quiet_telemetry()
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
