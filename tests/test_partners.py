"""partners.yaml: the shipped defaults load; a wrong entry is refused at load with a clear message."""

from __future__ import annotations

import pytest

from publish.partners import PartnerConfigError, check_cron, load_partners


def test_default_partners_load_with_one_jobcenter_partner_each():
    partners = load_partners(jobcenters=["05914", "05513"])
    ids = {p.id for p in partners}
    assert {"lwl", "lvr", "nrw_inklusiv", "jobcenter_05914", "jobcenter_05513"} == ids
    hagen = next(p for p in partners if p.id == "jobcenter_05914")
    assert hagen.scope_kreise() == ("05914",) and hagen.name == "Jobcenter Hagen"
    assert hagen.history_months == 24, "a Jobcenter's K06 and K07 over two years, for its report's trend"
    lwl = next(p for p in partners if p.id == "lwl")
    assert "05513" in lwl.scope_kreise() and "05315" not in lwl.scope_kreise()
    assert len(next(p for p in partners if p.id == "nrw_inklusiv").scope_kreise()) == 53


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kpis": ["k01", "k99"]}, "unknown KPI k99"),
        ({"scope": {"kreise": ["05999"]}}, "unknown Kreisschlüssel 05999"),
        ({"schedule": "0 6 32 * *"}, "day of month field '32' is outside 1-31"),
        ({"schedule": "every monday"}, "5 fields"),
        ({"formats": ["pdf"]}, "unknown format pdf"),
        ({"scope": {"landschaftsverband": "LWL", "statewide": True}}, "exactly one of"),
        ({"history_months": "24"}, "history_months '24' is not a number of months from 0 to 60"),
        ({"history_months": 600}, "history_months 600 is not a number of months from 0 to 60"),
    ],
)
def test_a_wrong_entry_is_refused_with_a_clear_message(tmp_path, change, message):
    entry = {
        "id": "test", "name": "Test", "scope": {"kreise": ["05914"]}, "kpis": ["k06"], "formats": ["csv"],
        "schedule": "0 6 10 * *", "period": "month", "target": "outbox",
    }  # fmt: skip
    entry.update(change)
    import yaml

    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"partners": [entry]}))
    with pytest.raises(PartnerConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_partners(path)
    assert "partner test" in str(error.value)


def test_cron_checker():
    assert check_cron("0 6 15 3 *") is None
    assert check_cron("*/15 6-18 * * 1-5") is None
    assert check_cron("60 * * * *") is not None


def test_a_configuration_file_that_is_no_yaml_names_itself_and_its_line(tmp_path):
    """A syntax error in partners.yaml was a 76-line traceback naming neither the file nor the line;
    one in senders.yaml failed the run after its extracts were delivered (an operator's review).
    Both are refused in one line, and `teilhabe run` checks both before it takes a file."""
    from publish.senders import SenderConfigError, load_senders

    broken = tmp_path / "partners.yaml"
    broken.write_text("partners:\n  - id: lwl\n    kpis: [k01, k02\n    formats: [csv]\n", "utf-8")
    with pytest.raises(PartnerConfigError, match=r"^partners\.yaml line \d+: not valid YAML"):
        load_partners(broken)
    senders = tmp_path / "senders.yaml"
    senders.write_text("senders: [\n", "utf-8")
    with pytest.raises(SenderConfigError, match=r"^senders\.yaml line \d+: not valid YAML"):
        load_senders(senders)
