"""The simulated landscapes: which workshops and Jobcenters exist, how big, and the seeds' story.

``demo``: a handful of workshops per Landschaftsverband and three Jobcenters. Its targets reproduce
the seeds' figures exactly (LWL report 2024: Emscher-Werkstatt 114 of 576 AB persons on BiAp,
rank 1, up from rank 3 with 78 in 2023; Iserlohn and Bottrop just behind; Jobcenter Hagen with
about 1,100 SB+GL customers, 300 Rehabilitanden and a Werkakademie integration quota of 35-40 %).
``nrw``: every Kreis, about 100 workshops (70,000 employees) and 53 Jobcenters (80,000 customers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from teilhabe.reference import nrw_kreise


@dataclass(frozen=True)
class WorkshopSpec:
    werkstatt_nr: str
    name: str
    traeger: str
    ort: str
    plz: str
    kreis: str
    landschaftsverband: str
    places: int
    vendor: str  # "csv" (format W-CSV) or "xlsx" (format W-XLSX)
    biap_share: float  # long-run share of AB persons on BiAp (BIAP or BIG)
    transition_rate: float  # transitions per AB person and year
    # year -> (persons in AB on 31.12., persons on BiAp on 31.12.), hit exactly
    targets: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(self.werkstatt_nr[4:])


@dataclass(frozen=True)
class JobcenterSpec:
    kreis: str
    ort: str
    target_group: int  # customers in the target group on a Stichtag (about)
    elb: int  # employable benefit recipients (all customers, for bestand.csv)
    wak_quote: float | None = None  # K08 hit exactly (rounded to whole persons) when given


@dataclass(frozen=True)
class Profile:
    name: str
    workshops: tuple[WorkshopSpec, ...]
    jobcenters: tuple[JobcenterSpec, ...]
    employers_per_kreis: int = 24


_DEMO_LWL = [
    # nr, name, Träger, Ort, PLZ, Kreis, places, vendor, biap share, transition rate, targets
    (
        "LWL-0101",
        "Emscher-Werkstatt",
        "Sozialwerk St. Georg",
        "Gelsenkirchen",
        "45881",
        "05513",
        620,
        "csv",
        0.17,
        0.020,
        {2023: (552, 78), 2024: (576, 114)},
    ),
    (
        "LWL-0102",
        "Werkstätten Iserlohn",
        "Iserlohner Werkstätten gGmbH",
        "Iserlohn",
        "58636",
        "05962",
        460,
        "xlsx",
        0.17,
        0.018,
        {2023: (425, 72), 2024: (430, 76)},
    ),
    (
        "LWL-0103",
        "Werkstatt Bottrop",
        "Diakonie Bottrop",
        "Bottrop",
        "46236",
        "05512",
        340,
        "csv",
        0.16,
        0.018,
        {2023: (312, 50), 2024: (318, 52)},
    ),
    (
        "LWL-0104",
        "Hagener Werkstätten",
        "HWK Hagen gGmbH",
        "Hagen",
        "58089",
        "05914",
        280,
        "xlsx",
        0.09,
        0.020,
        {2023: (250, 22), 2024: (255, 24)},
    ),
    (
        "LWL-0105",
        "Werkstatt Münsterland",
        "Lebenshilfe Steinfurt",
        "Steinfurt",
        "48565",
        "05566",
        410,
        "csv",
        0.09,
        0.017,
        {2023: (384, 33), 2024: (390, 37)},
    ),
    (
        "LWL-0106",
        "Werkstatt Hochsauerland",
        "Caritas Brilon",
        "Brilon",
        "59929",
        "05958",
        300,
        "csv",
        0.05,
        0.010,
        {2023: (236, 11), 2024: (240, 12)},
    ),
]
_DEMO_LVR = [
    (
        "LVR-0201",
        "Werkstatt Duisburg-Nord",
        "Lebenshilfe Duisburg",
        "Duisburg",
        "47166",
        "05112",
        520,
        "csv",
        0.11,
        0.016,
        {},
    ),
    (
        "LVR-0202",
        "Rheinische Werkstätten Köln",
        "Caritas Köln",
        "Köln",
        "50933",
        "05315",
        600,
        "xlsx",
        0.13,
        0.019,
        {},
    ),
    (
        "LVR-0203",
        "Werkstatt am Niederrhein",
        "Diakonie Kleve",
        "Kleve",
        "47533",
        "05154",
        380,
        "csv",
        0.08,
        0.014,
        {},
    ),
    (
        "LVR-0204",
        "Aachener Werkstätten",
        "AWO Aachen",
        "Aachen",
        "52070",
        "05334",
        450,
        "xlsx",
        0.12,
        0.017,
        {},
    ),
    (
        "LVR-0205",
        "Werkstatt Bergisches Land",
        "Diakonie Wuppertal",
        "Wuppertal",
        "42275",
        "05124",
        330,
        "csv",
        0.10,
        0.015,
        {},
    ),
]


def _lv(kreis: str) -> str:
    return dict(nrw_kreise().select("kreisschluessel", "landschaftsverband").iter_rows())[kreis]


def _demo_workshops() -> list[WorkshopSpec]:
    return [
        WorkshopSpec(nr, name, traeger, ort, plz, kreis, _lv(kreis), places, vendor, share, rate, targets)
        for nr, name, traeger, ort, plz, kreis, places, vendor, share, rate, targets in _DEMO_LWL + _DEMO_LVR
    ]


DEMO_JOBCENTERS = (
    JobcenterSpec("05914", "Hagen", target_group=1560, elb=14_100, wak_quote=0.375),
    JobcenterSpec("05513", "Gelsenkirchen", target_group=1700, elb=24_800),
    JobcenterSpec("05112", "Duisburg", target_group=2100, elb=41_500),
)

_TRAEGER = ["Lebenshilfe", "Caritas", "Diakonie", "AWO", "Parität", "DRK", "Sozialwerk"]
_PLACE_WORDS = ["Werkstätten", "Werkstatt", "Werkstätten am Fluss", "Werkhof", "Integrationswerk"]


def _town(kreis_name: str) -> str:
    for prefix in ("Kreis ", "StädteRegion "):
        kreis_name = kreis_name.removeprefix(prefix)
    return kreis_name.split("-")[0] if kreis_name.endswith("-Kreis") else kreis_name


# Postcode areas of the demo's Kreise; elsewhere a plausible NRW area (32xxx-59xxx) is derived.
_PLZ_AREAS = {
    "05513": 45879,
    "05914": 58089,
    "05962": 58636,
    "05512": 46236,
    "05566": 48565,
    "05958": 59929,
    "05112": 47166,
    "05315": 50933,
    "05154": 47533,
    "05334": 52070,
    "05124": 42275,
}


def plz_base(kreis: str) -> int:
    return _PLZ_AREAS.get(kreis, 32000 + (int(kreis) * 7919) % 27000)


def _nrw_profile() -> Profile:
    """All 53 Kreise: the demo's workshops plus about 90 more; a Jobcenter in every Kreis."""
    rng = np.random.default_rng(20240531)  # the landscape is fixed; --seed varies the people
    workshops = _demo_workshops()
    demo_kreise = {ws.kreis for ws in workshops}
    kreise = nrw_kreise()
    numbers = {"LWL": 110, "LVR": 210}
    for kreis, name, typ, lv in kreise.select(
        "kreisschluessel", "name", "typ", "landschaftsverband"
    ).iter_rows():
        count = 1 if kreis in demo_kreise else (2 if typ == "Kreis" else int(rng.integers(1, 3)))
        for _ in range(count):
            numbers[lv] += 1
            town = _town(name)
            traeger = f"{_TRAEGER[int(rng.integers(len(_TRAEGER)))]} {town}"
            workshops.append(
                WorkshopSpec(
                    werkstatt_nr=f"{lv}-{numbers[lv]:04d}",
                    name=f"{_PLACE_WORDS[int(rng.integers(len(_PLACE_WORDS)))]} {town}",
                    traeger=traeger,
                    ort=town,
                    plz=str(plz_base(kreis) + int(rng.integers(0, 90))),
                    kreis=kreis,
                    landschaftsverband=lv,
                    places=int(rng.integers(560, 960)),
                    vendor="xlsx" if rng.random() < 0.4 else "csv",
                    biap_share=float(rng.uniform(0.04, 0.15)),
                    transition_rate=float(rng.uniform(0.008, 0.022)),
                )
            )
    jobcenters = list(DEMO_JOBCENTERS)
    for kreis, name, typ in kreise.select("kreisschluessel", "name", "typ").iter_rows():
        if kreis in {jc.kreis for jc in DEMO_JOBCENTERS}:
            continue
        size = int(rng.integers(1000, 1800)) if typ == "Kreis" else int(rng.integers(1200, 2400))
        jobcenters.append(JobcenterSpec(kreis, _town(name), target_group=size, elb=size * 11))
    return Profile("nrw", tuple(workshops), tuple(jobcenters))


def load_profile(name: str) -> Profile:
    if name == "demo":
        return Profile("demo", tuple(_demo_workshops()), DEMO_JOBCENTERS)
    if name == "nrw":
        return _nrw_profile()
    raise ValueError(f"unknown profile {name!r}: expected 'demo' or 'nrw'")
