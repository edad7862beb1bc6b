"""The publish step: which partners get which period, suppression decided once for all of them,
validation, delivery through the outbox writer (publish/outbox.py), and every outcome logged in
ops.extract_log."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingest.ops_tables import PUBLISH_DDL, append_rows
from publish.expected import data_status
from publish.extracts import partner_sheets, remember_suppressed
from publish.files import csv_files
from publish.outbox import Outcome, deliver, edition, holds_figures, validation_reports
from publish.partners import Partner, load_partners
from publish.periods import period_kind as period_kind_of
from publish.periods import shown_months
from publish.readiness import Readiness, readiness
from publish.reports import ReportRendering
from teilhabe.disk import is_disk_full


def partners_in_warehouse(con: duckdb.DuckDBPyConnection) -> list[Partner]:
    """partners.yaml with its Jobcenter template expanded for the Jobcenters in the warehouse."""
    jobcenters = [
        row[0] for row in con.execute("select jobcenter from marts.dim_jobcenters order by 1").fetchall()
    ]
    return load_partners(jobcenters=jobcenters)


def _chosen(
    con: duckdb.DuckDBPyConnection, partner_ids: list[str] | None, period_kind: str | None, period: str | None
) -> list[Partner]:
    """The partners asked for (default: all; or those of one period kind); an unknown id, or a
    period of another kind than a partner receives, is refused."""
    partners = partners_in_warehouse(con)
    if partner_ids:
        if unknown := set(partner_ids) - {p.id for p in partners}:
            raise ValueError(f"unknown partner(s) {', '.join(sorted(unknown))} (see partners.yaml)")
        partners = [p for p in partners if p.id in partner_ids]
        if period and (wrong := [p for p in partners if p.period != period_kind_of(period)]):
            raise ValueError(mismatch(wrong[0], period))
    if period_kind:
        partners = [p for p in partners if p.period == period_kind]
    return partners


def _plan(
    con, decision, partners: list[Partner], period: str | None, today: date, wait_for_inputs: bool = True
):
    """Per partner: the period to deliver and its sheets, or the outcome saying why not."""
    deliveries = con.execute("select * from marts.fct_monthly_deliveries").pl()
    outcomes, planned = [], []
    for partner in partners:
        ready = readiness(deliveries, partner, today)
        chosen = period or ready.period
        if chosen is None:
            outcomes.append(
                Outcome(partner.id, "-", "no_data", None, ready.waiting or "no complete period yet")
            )
            continue
        if period and ready.period and chosen > ready.period and period_kind_of(chosen) == partner.period:
            # A period asked for by name whose inputs are not in: nothing shows 0 for missing data.
            outcomes.append(
                Outcome(partner.id, chosen, "waiting", None, ready.waiting or "its data is not complete")
            )
            continue
        if wait_for_inputs and (waiting := _waiting_for(con, partner, chosen)):
            outcomes.append(Outcome(partner.id, chosen, "waiting", None, waiting))
            continue
        sheets = partner_sheets(decision, partner, chosen)
        if not any(s.frame.height for s in sheets):
            outcomes.append(Outcome(partner.id, chosen, "no_data", None, "no rows in the partner's scope"))
            continue
        planned.append((partner, chosen, sheets, ready))
    if period is None:  # the pipeline's run: also the earlier periods a delivery since has changed
        latest = {(p.id, c) for p, c, _, _ in planned} | {(o.partner, o.period) for o in outcomes}
        for partner, earlier in corrected_periods(con, partners):
            if (partner.id, earlier) not in latest:
                sheets = partner_sheets(decision, partner, earlier)
                planned.append((partner, earlier, sheets, Readiness(earlier, None)))
    return outcomes, planned


def corrected_periods(con: duckdb.DuckDBPyConnection, partners: list[Partner]) -> list[tuple[Partner, str]]:
    """(partner, period) of every period a partner holds whose inputs a delivery loaded since its
    newest version was made or checked: a correction or a late file of a month it rests on (a
    yearly or quarterly extract: each of its months, and for a year the December before; a monthly
    one: its month; its history months the partner's latest extract shows anew). The pipeline
    re-issues them: a new version where the figures changed, saying what it restates (an operator
    review: a corrected 2023 file left the LWL's 2023 report wrong until someone re-issued it)."""
    con.execute(PUBLISH_DDL)
    held = con.execute(
        "select partner, period, max(logged_at) from ops.extract_log "
        "where status in ('delivered', 'unchanged', 'completed') group by all"
    ).fetchall()
    if not held:
        return []
    arrived = dict(
        con.execute(
            "select period, max(ingested_at) from ops.delivery_log "
            "where status in ('loaded', 'superseded') and ingested_at > ? and period is not null group by period",
            [min(checked for _, _, checked in held)],
        ).fetchall()
    )
    if not arrived:
        return []
    by_id = {p.id: p for p in partners}
    found = []
    for partner_id, period, checked in sorted(held):
        partner = by_id.get(partner_id)
        if partner is None:
            continue
        months = [period] if partner.period == "month" else _months_behind(partner, period)
        if any(arrived.get(month, checked) > checked for month in months):
            found.append((partner, period))
    return found


def _validator(changed: list, outbox: Path):
    """Great Expectations for every partner whose figures changed (the others' newest version
    stands, validated when it was made), all before the first delivery, while the reports render:
    once per KPI for each group of partners of one shape, and alone a partner of no group or of a
    group whose verdict failed (only the leaking one is blocked)."""
    from publish.validation import validate_delivery, validate_together

    reports = validation_reports(outbox)
    verdicts = validate_together([(p, c, s) for p, c, s, _ in changed], reports) if changed else {}
    for partner, chosen, sheets, _ in changed:
        if partner.id not in verdicts:
            verdicts[partner.id] = validate_delivery(sheets, partner, chosen, reports)

    def validator(sheets, partner, chosen, reports):
        return verdicts.get(partner.id) or validate_delivery(sheets, partner, chosen, reports)

    return validator


def _months_behind(partner: Partner, period: str) -> list[str]:
    """The periods whose files a delivery's figures rest on: its months; for a year, also the year
    (the Landschaftsverbände's yearly files) and the December before (K02's and K03's persons in AB
    on 31.12. of the year before, K01's figure of the year before)."""
    months = shown_months(period, partner.history_months)
    if partner.period != "year":
        return months
    return [f"{int(period) - 1}-12", *months, period]


SHARE_DIGITS = 3  # a tenth of a percent


def linkage_quality(con: duckdb.DuckDBPyConnection) -> dict | None:
    """What the cross-agency figures rest on (linkage.md §4), as a partner may read it: when the
    latest linkage ran and the share of each kind of source's persons found in another, to a tenth
    of a percent (in whole percent the 0.4 % of the demo's Jobcenter customers found in a workshop
    read 0.0: nobody linked; a partners' review). No count: the statewide persons, links and pairs
    waiting for review (a 1 in a small demo) are no partner's scope (privacy.md §3, §4), and stay in
    ops.linkage_metrics."""
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ops' and table_name = 'linkage_metrics'"
    ).fetchone()[0]
    if not found:
        return None
    row = con.execute(
        """select measured_at, share_linked_wfbm_personen, share_linked_jc_kunden, share_linked_lv_budget_fuer_arbeit
           from ops.linkage_metrics order by measured_at desc limit 1"""
    ).fetchone()
    if row is None:
        return None
    measured_at, *shares = row
    names = ("share_linked_wfbm_personen", "share_linked_jc_kunden", "share_linked_lv_budget_fuer_arbeit")
    return {
        "measured_at": measured_at.isoformat(timespec="seconds"),
        **{
            name: None if share is None else round(share, SHARE_DIGITS)
            for name, share in zip(names, shares, strict=True)
        },
    }


def publish(
    con: duckdb.DuckDBPyConnection,
    outbox: Path,
    partner_ids: list[str] | None = None,
    period_kind: str | None = None,
    period: str | None = None,
    validate: bool = True,
    today: date | None = None,
    file_delay: float = 0.0,
    wait_for_inputs: bool = True,
) -> list[Outcome]:
    """Deliver the chosen partners' extracts (default: all; or those of one period kind) for
    ``period`` (default: each one's latest complete period, publish/readiness.py).
    Suppression is decided once for all of them; each outcome is logged in ops.extract_log.
    ``wait_for_inputs=False``: a yearly report also before its Leistungsdokumentation."""
    from publish.extracts import decide

    partners = _chosen(con, partner_ids, period_kind, period)
    # The reports render in worker processes, which get ready while the tables are decided, and
    # then render while Great Expectations validates here.
    with ReportRendering(expected=len(partners)) as rendering:
        decision = decide(con)
        outcomes, planned = _plan(con, decision, partners, period, today or date.today(), wait_for_inputs)
        # Only partners whose figures changed are validated and get a new report; the others' newest
        # version stands. Each partner's CSVs are made once: they are what its figures are.
        csvs = {p.id: csv_files(s) for p, _, s, _ in planned}
        changed = [(p, c, s, r) for p, c, s, r in planned if not holds_figures(p, c, csvs[p.id], outbox)]
        status = {  # the report's data status: only a new version has a report to put it in
            p.id: data_status(con, p, _months_behind(p, c)) for p, c, _, _ in changed
        }
        editions = {p.id: edition(p, c, csvs[p.id], outbox, r.through or c) for p, c, _, r in changed}
        rendering.render([(p, c, s, r.through or c, status[p.id], editions[p.id]) for p, c, s, r in changed])
        validator = _validator(changed, outbox) if validate else None
        linkage = linkage_quality(con)
        # The cells every partner will hold are recorded before the first version is renamed into
        # place: recorded after the loop, a run that crashed or failed at its third partner had
        # delivered two with no record, and a later correction published a cell they had received
        # as "*" (an operator's review). A failed delivery leaves its cells recorded: more
        # suppression, never less.
        remember_suppressed(con, decision, [sheet for _, _, sheets, _ in planned for sheet in sheets])
        # Each partner is delivered as soon as its report is rendered, while the workers render
        # the next ones. A folder one partner's delivery cannot write (its permissions, a file
        # system of its own) fails that partner alone (an operator review: one read-only folder
        # left every later partner undelivered); a full disk stops them all (StorageError).
        reports = rendering.reports()
        renders = {p.id for p, *_ in changed}
        for partner, chosen, sheets, ready in planned:
            page = next(reports) if partner.id in renders else None
            try:
                outcome = deliver(
                    partner, chosen, sheets, outbox, ready.through or chosen, validator, file_delay, linkage,
                    status.get(partner.id), page, editions.get(partner.id), csvs[partner.id],
                )  # fmt: skip
            except OSError as error:
                if is_disk_full(error):
                    raise
                outcomes.append(Outcome(partner.id, chosen, "failed", None, f"not delivered: {error}"))
                continue
            if ready.waiting and period is None:
                outcome = replace(outcome, message=f"{outcome.message}; {ready.waiting}")
            outcomes.append(outcome)
    _log(con, outcomes)
    return outcomes


def _log(con: duckdb.DuckDBPyConnection, outcomes: list[Outcome]) -> None:
    con.execute(PUBLISH_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    append_rows(
        con,
        "ops.extract_log",
        [
            (o.partner, o.period, o.version, o.status, o.files, o.figures_sha256, o.manifest_sha256,
             o.supersedes, ",".join(o.restates) or None, o.message, now)
            for o in outcomes
            if o.status != "no_data"
        ],
    )  # fmt: skip


def _waiting_for(con: duckdb.DuckDBPyConnection, partner: Partner, period: str) -> str | None:
    """A Landschaftsverband's annual report waits for its Leistungsdokumentation of the year (K12
    compares with it), also when its schedule or an operator names the year (an operator review:
    the schedule's report went out with every K12 row „fehlt“, to be restated weeks later); an
    operator who wants it without: ``teilhabe publish --without-waiting``."""
    if "k12" not in partner.kpis or not partner.landschaftsverband or period_kind_of(period) != "year":
        return None
    arrived = con.execute(
        "select count(*) from marts.fct_reported_figures where landschaftsverband = ? and year = ?",
        [partner.landschaftsverband, int(period)],
    ).fetchone()[0]
    return (
        None if arrived else f"waiting for the {partner.landschaftsverband} Leistungsdokumentation {period}"
    )


def mismatch(partner: Partner, period: str) -> str:
    return (
        f"partner {partner.id} receives {partner.period}ly extracts, not a {period_kind_of(period)} "
        f"({period}); see partners.yaml"
    )
