"""What a file is, from its first bytes: so that a message can say "this is a CSV text file, not an
Excel workbook" instead of a reader's confused complaint about its content."""

from __future__ import annotations

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "eine ZIP-Datei (etwa eine Excel-Arbeitsmappe .xlsx)"),
    (b"PK\x05\x06", "eine leere ZIP-Datei"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "eine Datei im alten Office-Format (etwa Excel .xls)"),
    (b"%PDF", "ein PDF-Dokument"),
    (b"\x1f\x8b", "eine gzip-komprimierte Datei"),
    (b"7z\xbc\xaf\x27\x1c", "ein 7-Zip-Archiv"),
    (b"Rar!", "ein RAR-Archiv"),
    (b"\x89PNG", "ein PNG-Bild"),
    (b"\xff\xd8\xff", "ein JPEG-Bild"),
    (b"{\\rtf", "ein RTF-Dokument"),
)
_CONTROL = bytes(c for c in range(32) if c not in b"\t\n\r\x0c") + b"\x7f"


def is_utf16(content: bytes) -> bool:
    """Text in UTF-16 (Excel's "Unicode-Text"): its byte-order mark, or, without one, a NUL byte
    beside nearly every character of Latin text."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = content[:4096]
    half = len(head) // 2
    zeros = sorted((head[0::2].count(0), head[1::2].count(0)))
    return half >= 4 and zeros[1] > 0.9 * half and zeros[0] < 0.1 * half


def is_zip(content: bytes) -> bool:
    return content.startswith(b"PK\x03\x04")


def what_it_is(content: bytes) -> str:
    """A short German description of what the bytes are (for messages to senders)."""
    if not content:
        return "eine leere Datei (0 Bytes)"
    if not content.strip(b"\x00"):
        return "eine Datei nur aus Null-Bytes (eine abgebrochene Übertragung?)"
    for signature, description in SIGNATURES:
        if content.startswith(signature):
            return description
    head = content[:65536]
    if head.lstrip().startswith(b"<"):
        return "eine XML- oder HTML-Datei"
    # A few NUL or control bytes in text are a fault of rows (the reader names the row); many are
    # what binary data looks like.
    control = len(head) - len(head.translate(None, _CONTROL))
    if head.count(0) > len(head) // 100 or control > len(head) // 20:
        return "eine Binärdatei"
    return "eine Textdatei"


def is_text(content: bytes) -> bool:
    return what_it_is(content) == "eine Textdatei"
