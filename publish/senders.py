"""Senders as configuration (senders.yaml): how each sender's Rückmeldung addresses it, in which
outbox folder it lands, and whether it gets one. A wrong entry is refused at load with a message
naming the entry and the field, as partners.yaml's are.

Templates make one sender per workshop of a register (``each_workshop``) and per Jobcenter of the
reference list (``each_jobcenter``); an entry with a sender's id overrides its template for that
sender. A folder is made from the sender's id only, never from a name a file delivered, and must
be one plain folder name.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from publish.partners import config_document
from teilhabe.settings import REPO_ROOT

SENDERS_FILE = REPO_ROOT / "senders.yaml"
TEMPLATES = {  # template -> (kind, placeholders a name may use, placeholders a folder may use)
    "each_workshop": ("werkstatt", {"werkstatt_nr", "workshop_name"}, {"werkstatt_nr"}),
    "each_jobcenter": ("jobcenter", {"kreisschluessel", "kreis_name"}, {"kreisschluessel"}),
}
FIELDS = {"id", "template", "name", "folder", "feedback"}
SAFE_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class SenderConfigError(ValueError):
    """senders.yaml says something that cannot be followed."""


@dataclass(frozen=True)
class Sender:
    id: str
    kind: str
    name: str  # how the Rückmeldung addresses the sender
    folder: str  # outbox/<folder>/rueckmeldung/<period>/
    feedback: bool = True


def _refuse(where: str, message: str) -> SenderConfigError:
    return SenderConfigError(f"{SENDERS_FILE.name}: sender {where}: {message}")


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@dataclass(frozen=True)
class SenderDirectory:
    """senders.yaml, loaded: ``sender`` makes the entry of one sender."""

    named: dict[str, dict]  # entries by sender id: Landschaftsverbände and overrides
    templates: dict[str, dict]  # kind -> template entry

    def sender(self, sender_id: str, kind: str, names: dict[str, str] | None = None) -> Sender | None:
        """The sender ``sender_id`` of ``kind`` (``names``: the template's name placeholders, e.g. the
        workshop's name); None when neither an entry nor a template covers it."""
        key = "werkstatt_nr" if kind == "werkstatt" else "kreisschluessel"
        values = {"werkstatt_nr": sender_id, "workshop_name": "Werkstatt",
                  "kreisschluessel": sender_id, "kreis_name": sender_id, **(names or {}), key: sender_id}  # fmt: skip
        template = self.templates.get(kind, {})
        entry = {
            **{k: (v.format(**values) if isinstance(v, str) else v) for k, v in template.items()},
            **self.named.get(sender_id, {}),  # an entry of its own is taken as written
        }
        if "folder" not in entry or "name" not in entry:
            return None
        if not SAFE_FOLDER.fullmatch(entry["folder"]):  # an id that is no plain folder name gets none
            return None
        return Sender(sender_id, kind, entry["name"], entry["folder"], entry.get("feedback", True))


def _entry(entry: object, where: str, template: str | None) -> dict:
    if not isinstance(entry, dict):
        raise _refuse(where, "is not a mapping of fields")
    if unknown := set(entry) - FIELDS:
        raise _refuse(
            where, f"unknown field(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(FIELDS))})"
        )
    if "feedback" in entry and not isinstance(entry["feedback"], bool):
        raise _refuse(where, f"feedback {entry['feedback']!r} is not true or false")
    for field in ("name", "folder"):
        if field in entry and not isinstance(entry[field], str):
            raise _refuse(where, f"{field} {entry[field]!r} is not text")
    if template is not None:
        _, name_fields, folder_fields = TEMPLATES[template]
        for field, allowed in (("name", name_fields), ("folder", folder_fields)):
            if field not in entry:
                raise _refuse(where, f"field {field!r} missing")
            if bad := _placeholders(entry[field]) - allowed:
                raise _refuse(
                    where, f"{field} uses {', '.join('{' + b + '}' for b in sorted(bad))} "
                    f"(a {field} may use {', '.join('{' + a + '}' for a in sorted(allowed))})",
                )  # fmt: skip
        # as a sender's id fills it: `jobcenter/{kreisschluessel}` gave no folder, and every
        # Jobcenter's Rückmeldung was silently not sent (an operator review)
        example = entry["folder"].format(**dict.fromkeys(folder_fields, "LWL-0101"))
        if not SAFE_FOLDER.fullmatch(example):
            raise _refuse(
                where, f"folder {entry['folder']!r} gives {example!r} for a sender: not one plain folder name "
                "(letters, digits, _ and -)",
            )  # fmt: skip
    elif "folder" in entry and (_placeholders(entry["folder"]) or not SAFE_FOLDER.fullmatch(entry["folder"])):
        raise _refuse(
            where, f"folder {entry['folder']!r} is not one plain folder name (letters, digits, _ and -)"
        )
    return {k: v for k, v in entry.items() if k not in ("id", "template")}


def load_senders(path: Path = SENDERS_FILE) -> SenderDirectory:
    document = config_document(path, SenderConfigError, "senders")
    named: dict[str, dict] = {}
    templates: dict[str, dict] = {}
    for number, entry in enumerate(document.get("senders") or [], start=1):
        template = entry.get("template") if isinstance(entry, dict) else None
        where = str(entry.get("id") or template or f"#{number}") if isinstance(entry, dict) else f"#{number}"
        if template is not None:
            if template not in TEMPLATES:
                raise _refuse(where, f"unknown template {template!r} (known: {', '.join(TEMPLATES)})")
            kind = TEMPLATES[template][0]
            if kind in templates:
                raise _refuse(where, f"template {template} given twice")
            templates[kind] = _entry(entry, where, template)
        elif isinstance(entry, dict) and "id" in entry:
            if str(entry["id"]) in named:
                raise _refuse(where, "given twice")
            named[str(entry["id"])] = _entry(entry, where, None)
        else:
            raise _refuse(where, "needs an id (one sender) or a template (each_workshop, each_jobcenter)")
    return SenderDirectory(named, templates)
