"""People's and employers' names, and the ways agencies spell them differently.

Every variant produced here must normalise (privacy.md §1, kpis.md "Same employer") to the
same identity as its original; the errors that normalisation does not remove are errors.py's.
"""

from __future__ import annotations

import re
import unicodedata

# Names stay within Windows-1252: the workshop and Landschaftsverband exports are encoded in it.
SURNAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Winkler",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Franke",
    "Albrecht",
    "Schuster",
    "Simon",
    "Ludwig",
    "Böhm",
    "Winter",
    "Kraus",
    "Martin",
    "Schumacher",
    "Krämer",
    "Vogt",
    "Stein",
    "Jäger",
    "Otto",
    "Sommer",
    "Groß",
    "Seidel",
    "Heinrich",
    "Brandt",
    "Haas",
    "Schreiber",
    "Graf",
    "Schulte",
    "Dietrich",
    "Ziegler",
    "Kuhn",
    "Kühn",
    "Pohl",
    "Engel",
    "Horn",
    "Busch",
    "Bergmann",
    "Thomas",
    "Voigt",
    "Sauer",
    "Arnold",
    "Wolff",
    "Pfeiffer",
    "Strauß",
    "Yilmaz",
    "Kaya",
    "Demir",
    "Öztürk",
    "Çelik",
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Lewandowski",
    "Popović",
    "Nguyen",
    "Haddad",
    "Rossi",
    "Ferreira",
    "Dąbrowski",
    "Sánchez",
    "Özdemir",
    "Aydın",
    "Şahin",
    "Kılıç",
]
# Keep only names that Windows-1252 can carry (drops the Polish and Turkish letters above).
SURNAMES = [name for name in SURNAMES if name.encode("cp1252", "ignore").decode("cp1252") == name]

MALE_FIRST = [
    "Thomas",
    "Michael",
    "Andreas",
    "Stefan",
    "Christian",
    "Kevin",
    "Jan",
    "Tim",
    "Niklas",
    "Jonas",
    "Lukas",
    "Felix",
    "Björn",
    "Jürgen",
    "Sven",
    "Dennis",
    "Marco",
    "Tobias",
    "Florian",
    "Daniel",
    "Sebastian",
    "Patrick",
    "Marcel",
    "Ali",
    "Mehmet",
    "Mustafa",
    "Can",
    "Emre",
    "Ahmad",
    "Karl-Heinz",
    "Hans-Peter",
    "Jens",
    "Uwe",
    "Dirk",
    "Frank",
    "Maximilian",
    "Paul",
    "Leon",
    "Finn",
    "Noah",
    "Elias",
    "Ben",
    "Luca",
    "Timo",
    "Rene",
    "René",
]
FEMALE_FIRST = [
    "Anna",
    "Laura",
    "Julia",
    "Lena",
    "Lea",
    "Sarah",
    "Sabine",
    "Petra",
    "Andrea",
    "Nicole",
    "Sandra",
    "Katharina",
    "Marie",
    "Sophie",
    "Hannah",
    "Emma",
    "Mia",
    "Lina",
    "Zoë",
    "Gül",
    "Fatma",
    "Ayşe",
    "Elif",
    "Emine",
    "Anna-Lena",
    "Marie-Luise",
    "Lisa",
    "Jana",
    "Nina",
    "Vanessa",
    "Jessica",
    "Christina",
    "Kerstin",
    "Birgit",
    "Claudia",
    "Heike",
    "Monika",
    "Renate",
    "Ursula",
    "Jasmin",
    "Chiara",
    "Céline",
    "Aylin",
    "Mira",
]
MALE_FIRST = [n for n in MALE_FIRST if n.encode("cp1252", "ignore").decode("cp1252") == n]
FEMALE_FIRST = [n for n in FEMALE_FIRST if n.encode("cp1252", "ignore").decode("cp1252") == n]
SECOND_FIRST = {"m": ["Peter", "Josef", "Ali", "Karl", "Maria"], "w": ["Marie", "Luise", "Sophie", "Maria"]}
# How other registers write a name from another script or language (Windows-1252 only): each variant
# is another name after normalisation (linkage.md §1). The first block are names of the lists above;
# the second the classic cases, should the lists hold them.
TRANSLITERATIONS = {
    "Ahmad": ("Ahmed", "Achmed"),
    "Mustafa": ("Mustapha", "Moustafa"),
    "Mehmet": ("Mehmed",),
    "Gül": ("Gul",),
    "Özdemir": ("Ozdemir",),
    "Öztürk": ("Ozturk",),
    "Haddad": ("Hadad",),
    "Nowak": ("Novak", "Nowack"),
    "Kowalski": ("Kowalsky",),
    "Lewandowski": ("Lewandowsky",),
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad"),
    "Aleksandr": ("Alexander", "Aleksander"),
    "Jurij": ("Juri", "Yuri"),
    "Sergej": ("Sergei", "Sergey"),
}

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def normalise_name(text: str) -> str:
    """privacy.md §1: NFKC, lower case, umlauts folded, accents stripped, non a-z to blank, collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_UMLAUTS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z]", " ", text).split())


def transliterate(text: str) -> str:
    """How older systems without umlauts write names: Müller -> Mueller, Strauß -> Strauss."""
    return text.translate(_UMLAUTS)


def spell(name: str, style: int) -> str:
    """One agency's spelling of a name. Styles: 0 as is, 1 UPPER, 2 transliterated, 3 padded blanks,
    4 double first names with a blank instead of a hyphen (Anna-Lena -> Anna Lena)."""
    if style == 1:
        return name.upper()
    if style == 2:
        return transliterate(name)
    if style == 3:
        return f" {name} " if len(name) % 2 else f"{name}  "
    if style == 4:
        return name.replace("-", " ")
    return name


# --- Employers -----------------------------------------------------------------------------------

# (template, WZ 2008 class). {ort} is the town, {name} a surname.
EMPLOYER_TEMPLATES = [
    ("Stadtverwaltung {ort}", "84.11"),
    ("Stadt {ort}", "84.11"),
    ("Kreisverwaltung {kreis}", "84.11"),
    ("Autohaus {name} GmbH", "45.11"),
    ("Autohaus {name} AG", "45.11"),
    ("{name} Logistik GmbH & Co. KG", "52.10"),
    ("Gärtnerei {name} gGmbH", "01.19"),
    ("Caritas Wäscherei {ort} gGmbH", "96.01"),
    ("Bäckerei {name} GmbH", "10.71"),
    ('Bäckerei "Zum {name}" OHG', "10.71"),
    ("Universitätsklinikum {ort} AöR", "86.10"),
    ("Sportverein {ort} 1904 e.V.", "93.12"),
    ("Supermarkt {name} OHG", "47.11"),
    ("Hotel {name} GmbH", "55.10"),
    ("Gebäudereinigung {name} GmbH", "81.21"),
    ("Metallbau {name} AG", "25.11"),
    ("Lebenshilfe {ort} e.V.", "88.10"),
    ("Inklusionsbetrieb {ort} gGmbH", "88.10"),
    ("Tischlerei {name} eG", "16.23"),
    ("Wohnstätten {ort} eG", "68.20"),
]
INCLUSION_TEMPLATE = "Inklusionsbetrieb {ort} gGmbH"

_LEGAL_WORDS = {"ggmbh", "gmbh", "mbh", "ag", "aor", "kg", "eg", "ohg", "co", "ev"}


def normalise_employer(text: str) -> str:
    """kpis.md "Same employer": fold, strip accents, non a-z0-9 to blank, drop legal-form words."""
    text = text.lower().translate(_UMLAUTS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    words = re.sub(r"[^a-z0-9]", " ", text).split()
    kept: list[str] = []
    i = 0
    while i < len(words):
        if words[i] == "e" and i + 1 < len(words) and words[i + 1] == "v":
            i += 2
            continue
        if words[i] not in _LEGAL_WORDS:
            kept.append(words[i])
        i += 1
    return " ".join(kept)


def employer_variant(name: str, style: int) -> str:
    """The same employer as another agency writes it (all variants are the same employer by the rule)."""
    if style == 1:
        return name.upper()
    if style == 2:
        return transliterate(name)
    if style == 3:
        return name.replace("e.V.", "e. V.").replace("GmbH & Co. KG", "GmbH & Co KG").replace(" AG", " Ag")
    if style == 4:
        return name.replace(" gGmbH", " GmbH").replace(" OHG", "").replace(" eG", "")
    return name
