"""Writes the e-mail corpus that tests/test_mail_parse.py reads: real-world-shaped messages and what a parser must
find in each (expected.json). Deterministic: run it again and every file comes out byte for byte the same (a test
checks). Nothing here is copied from real mail; the shapes follow what Outlook, Exchange, Gmail, Apple Mail,
Thunderbird, Postfix and Mailman write.

    python tests/mail_corpus/make_corpus.py [OUT_DIR]     (default: this folder)
"""

# The texts are in the scripts and punctuation real mail carries (en dashes, full-width commas): not typos.
# ruff: noqa: RUF001

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import quopri
import random
import struct
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES: dict[str, tuple[bytes, dict[str, Any]]] = {}
DESK = "Service Desk <desk@example.org>"
ANN = '"Ann Smith" <ann.smith@example.com>'
# A 1x1 PNG and a tiny PDF: real file signatures, so that content sniffing downstream sees the right type.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"


def add(name: str, raw: bytes | str, **expect: Any) -> None:
    assert name not in CASES, name
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    if not expect.get("malformed"):
        expect.setdefault("kind", "ticketable")
        expect.setdefault("number", None)
    CASES[name] = (data, expect)


def message(headers: list[tuple[str, str]] | str, body: bytes | str, *, crlf: bool = True) -> bytes:
    """Headers and body joined as on the wire: CRLF line ends unless `crlf` is False."""
    head = headers if isinstance(headers, str) else "".join(f"{k}: {v}\n" for k, v in headers)
    raw = head.encode("utf-8") + b"\n" + (body if isinstance(body, bytes) else body.encode("utf-8"))
    raw = raw.replace(b"\r\n", b"\n")
    return raw.replace(b"\n", b"\r\n") if crlf else raw


_counter = 0


def std(subject: str = "Printer on floor 3 is jammed", sender: str = ANN, *, to: str = DESK,
        extra: list[tuple[str, str]] | None = None, mime: str | None = "text/plain; charset=utf-8",
        cte: str | None = "7bit", message_id: str | None = None) -> list[tuple[str, str]]:
    """The usual headers, with a Message-ID and a Date that differ per message."""
    global _counter
    _counter += 1
    headers = [("From", sender), ("To", to), ("Subject", subject),
               ("Date", f"Mon, 03 Jun 2024 {8 + _counter // 60 % 10:02d}:{_counter % 60:02d}:00 +0200"),
               ("Message-ID", message_id or f"<corpus-{_counter:04d}@mail.example.com>")]
    headers += extra or []
    if mime:
        headers += [("MIME-Version", "1.0"), ("Content-Type", mime)]
    if mime and cte:
        headers.append(("Content-Transfer-Encoding", cte))
    return headers


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def qp(data: bytes) -> str:
    return quopri.encodestring(data).decode("ascii")


def word(text: str, charset: str, encoding: str = "B", chunk: int = 30, label: str | None = None) -> str:
    """`text` as RFC 2047 encoded words of at most `chunk` encoded bytes each, split between characters; `label`
    names the charset in the words when it is not Python's name for it."""
    pieces: list[bytes] = []
    current = ""
    for char in text:
        if current and len((current + char).encode(charset)) > chunk:
            pieces.append(current.encode(charset))
            current = ""
        current += char
    if current:
        pieces.append(current.encode(charset))
    words = []
    for piece in pieces:
        if encoding == "B":
            words.append(f"=?{label or charset}?B?{base64.b64encode(piece).decode()}?=")
        else:
            encoded = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else ("_" if b == 32 else f"={b:02X}")
                              for b in piece)
            words.append(f"=?{label or charset}?Q?{encoded}?=")
    return "\r\n ".join(words)


def part(content_type: str, payload: str, *, cte: str = "7bit", extra: str = "") -> str:
    return f"Content-Type: {content_type}\nContent-Transfer-Encoding: {cte}\n{extra}\n{payload}"


def multipart(boundary: str, parts: list[str], *, close: bool = True, preamble: str = "") -> str:
    body = preamble + "".join(f"--{boundary}\n{p.rstrip(chr(10))}\n" for p in parts)
    return body + (f"--{boundary}--\n" if close else "")


def attachment_part(filename: str, content_type: str, data: bytes, *, inline: bool = False,
                    cid: str | None = None, disposition_name: str | None = None) -> str:
    disposition = "inline" if inline else "attachment"
    name = disposition_name if disposition_name is not None else f'filename="{filename}"'
    extra = f"Content-Disposition: {disposition}; {name}\n" if name else f"Content-Disposition: {disposition}\n"
    if cid:
        extra += f"Content-ID: <{cid}>\n"
    return part(f'{content_type}; name="{filename}"' if filename else content_type, b64(data), cte="base64",
                extra=extra)


def att(filename: str, content_type: str, data: bytes, *, inline: bool = False, cid: str | None = None,
        winmail: bool = False) -> list[Any]:
    return [filename, content_type, hashlib.sha256(data).hexdigest(), inline, cid, winmail]


# ----------------------------------------------------------------------------------------------- charsets
TEXTS = {
    "utf-8": "Grüße aus Köln – 東京の会議室 😀",
    "iso-8859-1": "Grüße aus Zürich, ça va, señor?",
    "windows-1252": "“Smart quotes” – and the € sign…",
    "koi8-r": "Привет, принтер не работает",
    "shift_jis": "プリンターが動きません",
    "gb2312": "打印机坏了，请帮忙",
    "iso-2022-jp": "会議室のプロジェクターが壊れました",
    "big5": "印表機故障了",
    "euc-kr": "프린터가 고장났어요",
    "iso-8859-15": "Prix : 10 € à payer",
    "iso-8859-2": "Zażółć gęślą jaźń",
    "windows-1251": "Здравствуйте, сервер недоступен",
    "ks_c_5601-1987": "메일 서버가 느려요",
    "utf-8 ": "Überschrift mit Leerzeichen im Etikett",  # a label with stray spaces around it
}


def charsets() -> None:
    for index, (label, text) in enumerate(TEXTS.items()):
        charset = label.strip()
        codec = {"ks_c_5601-1987": "euc-kr"}.get(charset, charset)
        encoded = (text + "\n\nSecond paragraph.\n").encode(codec)
        for cte in ("quoted-printable", "base64", "8bit"):
            html = cte == "base64" and index % 2 == 0
            content = encoded if not html else (
                b"<html><body><p>" + encoded.replace(b"\n\n", b"</p><p>") + b"</p></body></html>")
            payload = {"quoted-printable": qp(content).encode(), "base64": b64(content).encode(), "8bit": content}[cte]
            subject = word(text, codec, "B" if (index + len(cte)) % 2 else "Q")
            mime = f'text/{"html" if html else "plain"}; charset="{label}"'
            slug = charset if label == charset else f"{charset}-spaced-label"
            add(f"charset-{slug}-{cte}.eml", message(std(subject, mime=mime, cte=cte), payload),
                subject=text, body_contains=[text, "Second paragraph."], problems=False)
    # Labels Python does not know: UTF-8 bytes are read as UTF-8, other bytes as Windows-1252.
    add("charset-unknown-label-utf8.eml",
        message(std(word("Café crème", "utf-8", label="x-unknown"), mime='text/plain; charset="x-unknown"', cte="8bit"),
                "Le café est froid.\n".encode()),
        subject="Café crème", body_contains=["Le café est froid."], problems=True)
    add("charset-unknown-label-cp1252.eml",
        message(std("Coffee", mime='text/plain; charset="x-user-defined-8"', cte="8bit"),
                "Le café est très froid.\n".encode("cp1252")),
        subject="Coffee", body_contains=["Le café est très froid."], problems=True)
    add("charset-unknown-8bit.eml",
        message(std("Unknown 8bit", mime="text/plain; charset=unknown-8bit", cte="8bit"), "Naïve résumé\n".encode()),
        subject="Unknown 8bit", body_contains=["Naïve résumé"], problems=True)
    add("charset-mislabelled-ascii.eml",
        message(std("Mislabelled", mime="text/plain; charset=us-ascii", cte="8bit"), "Straße gesperrt\n".encode()),
        subject="Mislabelled", body_contains=["Straße gesperrt"])
    add("charset-utf8-invalid-bytes.eml",
        message(std("Broken UTF-8", mime="text/plain; charset=utf-8", cte="8bit"), b"Caf\xe9 and more \xff\n"),
        subject="Broken UTF-8", body_contains=["Caf", "and more"], problems=True)
    add("charset-none-8bit.eml",
        message(std("No charset", mime="text/plain", cte="8bit"), "Überweisung fehlt\n".encode()),
        subject="No charset", body_contains=["Überweisung fehlt"], problems=True)
    add("charset-rfc2231-param.eml",
        message(std("RFC 2231 charset", mime="text/plain; charset*=utf-8''utf-8", cte="8bit"), "Ça marche\n".encode()),
        subject="RFC 2231 charset", body_contains=["Ça marche"])
    halves = ("Grüße".encode()[:3], "Grüße".encode()[3:])  # "ü" is cut in two between the words
    add("subject-split-multibyte.eml",
        message(std(" ".join(f"=?utf-8?B?{base64.b64encode(h).decode()}?=" for h in halves)), "Split.\n"),
        subject="Grüße", body_contains=["Split."])
    add("subject-mixed-words.eml",
        message(std("Re: [INC0000321] " + word("Zürich", "iso-8859-1", "Q") + " office " + word("東京", "utf-8")),
                "Mixed.\n"),
        subject="Re: [INC0000321] Zürich office 東京", number="INC0000321")
    add("subject-unknown-word-charset.eml",
        message(std("=?x-klingon?Q?Caf=C3=A9?= today"), "Klingon.\n"),
        subject="Café today", problems=True)
    add("subject-broken-base64-word.eml",
        message(std("=?utf-8?B?SGVsbG8gV29ybGQ?= again"), "Padding.\n"), subject="Hello World again")
    add("subject-raw-utf8.eml", message(std("Drucker geht nicht – bitte prüfen"), "Raw.\n"),
        subject="Drucker geht nicht – bitte prüfen")
    latin1 = message(std("PLACEHOLDER"), "Latin-1.\n").replace(b"PLACEHOLDER", "Grüße".encode("latin-1"))
    add("subject-raw-latin1.eml", latin1, subject="Grüße")


# --------------------------------------------------------------------------------------------- structures
def structures() -> None:
    add("plain-ascii.eml", message(std(), "The printer on floor 3 is jammed again.\n"),
        body_contains=["jammed again"], sender="ann.smith@example.com", sender_name="Ann Smith",
        to=["desk@example.org"], problems=False)
    add("plain-lf-only.eml", message(std("LF only"), "Unix line ends.\nSecond line.\n", crlf=False),
        subject="LF only", body_contains=["Unix line ends.\nSecond line."], problems=False)
    add("plain-cr-only.eml", message(std("CR only"), "Old Mac line ends.\nSecond.\n").replace(b"\r\n", b"\r"),
        subject="CR only", body_contains=["Old Mac line ends."])
    add("plain-mbox-from-line.eml",
        b"From ann.smith@example.com Mon Jun  3 10:00:00 2024\n" + message(std("From mbox"), "Mbox.\n"),
        subject="From mbox", body_contains=["Mbox."])
    add("plain-leading-blank-lines.eml", b"\r\n\r\n" + message(std("Leading blank"), "Blank lines first.\n"),
        subject="Leading blank", body_contains=["Blank lines first."])
    add("plain-bom.eml", b"\xef\xbb\xbf" + message(std("With BOM"), "BOM.\n"), subject="With BOM")
    add("plain-no-mime-headers.eml", message(std("No MIME", mime=None), "Just text, RFC 822 style.\n"),
        subject="No MIME", body_contains=["RFC 822 style"], problems=False)
    add("plain-empty-body.eml", message(std("Empty body"), ""), subject="Empty body", body_text="", reply="")
    add("plain-nul-bytes.eml", message(std("NUL", cte="8bit"), b"Before\x00after\n"), body_contains=["Beforeafter"],
        subject="NUL")
    add("plain-long-line.eml", message(std("Long line"), "x" * 200_000 + "\nEnd.\n"), body_contains=["End."],
        subject="Long line")
    add("html-only.eml",
        message(std("HTML only", mime="text/html; charset=utf-8"),
                "<html><head><style>p{color:red}</style></head><body><p>Hello <b>desk</b>,</p>"
                "<p>the VPN is down.</p></body></html>\n"),
        subject="HTML only", body_contains=["Hello desk,", "the VPN is down."], body_not_contains=["color:red"],
        html_contains=["<b>desk</b>"], html_not_contains=["<style", "color:red"], problems=False)
    add("html-hostile.eml",
        message(std("Hostile HTML", mime="text/html; charset=utf-8"),
                '<p onclick="steal()">Click <a href="javascript:alert(1)">here</a> or '
                '<a href="https://example.com/help">help</a></p><script>alert(1)</script>'
                '<img src="https://tracker.example.net/pixel.gif"><img src="cid:logo@x">'
                '<iframe src="https://evil.example.net"></iframe>\n'),
        subject="Hostile HTML", html_contains=['href="https://example.com/help"', 'src="cid:logo@x"'],
        html_not_contains=["onclick", "javascript:", "<script", "tracker.example.net", "<iframe"],
        body_not_contains=["alert(1)"])
    alternative = multipart("alt-1", [
        part("text/plain; charset=utf-8", "Plain version of the message.\n"),
        part("text/html; charset=utf-8", "<p>HTML <i>version</i> of the message.</p>\n"),
    ])
    add("alternative.eml", message(std("Alternative", mime='multipart/alternative; boundary="alt-1"', cte=None),
                                   alternative),
        subject="Alternative", body_text="Plain version of the message.", html_contains=["<i>version</i>"],
        problems=False)
    mixed = multipart("mix-1", [
        part("text/plain; charset=utf-8", "See the attached report and screenshot.\n"),
        attachment_part("report.pdf", "application/pdf", PDF),
        attachment_part("screenshot.png", "image/png", PNG),
    ])
    add("mixed-attachments.eml", message(std("Mixed", mime='multipart/mixed; boundary="mix-1"', cte=None), mixed),
        subject="Mixed", body_text="See the attached report and screenshot.",
        attachments=[att("report.pdf", "application/pdf", PDF), att("screenshot.png", "image/png", PNG)],
        problems=False)
    related = multipart("rel-1", [
        part("text/html; charset=utf-8", '<p>Error below:</p><img src="cid:image001.png@01DAB5C2.4F1E7A10">\n'),
        part("image/png", b64(PNG), cte="base64",
             extra='Content-ID: <image001.png@01DAB5C2.4F1E7A10>\n'
                   'Content-Disposition: inline; filename="image001.png"\n'),
    ])
    add("related-inline-image.eml",
        message(std("Related", mime='multipart/related; boundary="rel-1"; type="text/html"', cte=None), related),
        subject="Related", body_contains=["Error below:"], html_contains=['src="cid:image001.png@01DAB5C2.4F1E7A10"'],
        attachments=[att("image001.png", "image/png", PNG, inline=True, cid="image001.png@01DAB5C2.4F1E7A10")],
        problems=False)
    # Outlook: mixed( alternative( plain, related( html, image ) ), attachment )
    outlook = multipart("out-mixed", [
        "Content-Type: multipart/alternative; boundary=\"out-alt\"\n\n" + multipart("out-alt", [
            part("text/plain; charset=us-ascii", "Screenshot inline, log attached.\n"),
            "Content-Type: multipart/related; boundary=\"out-rel\"; type=\"text/html\"\n\n" + multipart("out-rel", [
                part("text/html; charset=us-ascii", '<p>Screenshot inline, log attached.</p><img src="cid:img@x">\n'),
                part("image/png", b64(PNG), cte="base64", extra="Content-ID: <img@x>\n"),
            ]),
        ]),
        attachment_part("error.log", "text/plain", b"ERROR 42 at startup\n"),
    ])
    add("outlook-nested.eml", message(std("Outlook nested", mime='multipart/mixed; boundary="out-mixed"', cte=None),
                                      outlook),
        subject="Outlook nested", body_text="Screenshot inline, log attached.",
        attachments=[att("attachment-1.png", "image/png", PNG, inline=True, cid="img@x"),
                     att("error.log", "text/plain", b"ERROR 42 at startup\n")], problems=False)
    apple = multipart("apple-1", [
        part("text/plain; charset=us-ascii", "Here is the screen:\n"),
        attachment_part("Screen Shot 2024-06-03.png", "image/png", PNG, inline=True),
        part("text/plain; charset=us-ascii", "and that is all.\n"),
    ])
    add("apple-mail-inline.eml", message(std("Apple inline", mime='multipart/mixed; boundary="apple-1"', cte=None),
                                         apple),
        subject="Apple inline", body_text="Here is the screen:\n\nand that is all.",
        attachments=[att("Screen Shot 2024-06-03.png", "image/png", PNG, inline=True)])
    calendar = multipart("cal-1", [
        part("text/plain; charset=utf-8", "Meeting invitation.\n"),
        part('text/calendar; charset=utf-8; method=REQUEST', "BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n"),
    ])
    add("calendar-invite.eml", message(std("Invitation", mime='multipart/mixed; boundary="cal-1"', cte=None),
                                       calendar),
        subject="Invitation", body_text="Meeting invitation.",
        attachments=[att("attachment-1.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR")])
    many = multipart("many-1", [part("text/plain", "Twenty files.\n")] + [
        attachment_part(f"file-{i:02d}.txt", "text/plain", f"file {i}\n".encode()) for i in range(20)])
    add("many-attachments.eml", message(std("Twenty", mime='multipart/mixed; boundary="many-1"', cte=None), many),
        subject="Twenty", attachment_count=20, problems=False)
    add("attachment-empty.eml", message(std("Empty file", mime='multipart/mixed; boundary="e-1"', cte=None),
                                        multipart("e-1", [part("text/plain", "Empty file attached.\n"),
                                                          attachment_part("empty.txt", "text/plain", b"")])),
        subject="Empty file", attachments=[att("empty.txt", "text/plain", b"")])
    add("attachment-no-name.eml", message(std("No name", mime='multipart/mixed; boundary="n-1"', cte=None),
                                          multipart("n-1", [part("text/plain", "Unnamed.\n"),
                                                            part("application/pdf", b64(PDF), cte="base64")])),
        subject="No name", attachments=[att("attachment-1.pdf", "application/pdf", PDF)])
    add("attachment-name-in-content-type.eml",
        message(std("CT name", mime='multipart/mixed; boundary="c-1"', cte=None),
                multipart("c-1", [part("text/plain", "Old client.\n"),
                                  part('application/pdf; name="old-client.pdf"', b64(PDF), cte="base64")])),
        subject="CT name", attachments=[att("old-client.pdf", "application/pdf", PDF)])
    nested = part("text/plain", "Deep down.\n")
    for level in range(10):
        nested = f'Content-Type: multipart/mixed; boundary="deep-{level}"\n\n' + multipart(f"deep-{level}", [nested])
    head, _, body = nested.partition("\n\n")
    add("deeply-nested.eml", message(std("Deep", mime=head.split(": ", 1)[1], cte=None), body),
        subject="Deep", body_text="Deep down.")
    add("uuencoded.eml", message(std("uuencode", mime="application/octet-stream; name=\"hello.txt\"",
                                     cte="x-uuencode", extra=[]),
                                 "begin 644 hello.txt\n" + binascii.b2a_uu(b"hello\n").decode() + "`\nend\n"),
        subject="uuencode", attachments=[att("hello.txt", "application/octet-stream", b"hello\n")])


# ---------------------------------------------------------------------------------------------- file names
def filenames() -> None:
    cases = [
        ("rfc2047-b", f'filename="{word("Übersicht März.pdf", "utf-8")}"', "Übersicht März.pdf"),
        ("rfc2047-q", f'filename="{word("Résumé.pdf", "iso-8859-1", "Q")}"', "Résumé.pdf"),
        ("rfc2231-utf8", "filename*=utf-8''%E2%82%AC%20Rechnung%20Nr.%201.pdf", "€ Rechnung Nr. 1.pdf"),
        ("rfc2231-latin1", "filename*=iso-8859-1''Gr%FC%DFe.txt", "Grüße.txt"),
        ("rfc2231-continuation", "filename*0*=utf-8''Sehr%20langer%20Dateiname%20;\n filename*1*=%C3%BCber%20"
                                 "Quartal.xlsx", "Sehr langer Dateiname über Quartal.xlsx"),
        ("rfc2231-unknown-charset", "filename*=x-unknown''report.txt", "report.txt"),
        ("traversal", 'filename="..\\\\..\\\\Windows\\\\System32\\\\evil.exe"', "evil.exe"),
        ("unix-path", 'filename="/etc/passwd"', "passwd"),
        ("long", f'filename="{"a" * 300}.pdf"', "a" * 196 + ".pdf"),
        ("control-chars", 'filename="bad\tname?.txt"', "bad name_.txt"),
        ("quoted-comma", 'filename="Smith, Ann - CV.pdf"', "Smith, Ann - CV.pdf"),
    ]
    for slug, disposition, expected in cases:
        data = f"content of {slug}\n".encode()
        body = multipart("f-1", [part("text/plain", f"File {slug}.\n"),
                                 attachment_part("", "application/octet-stream", data, disposition_name=disposition)])
        add(f"filename-{slug}.eml", message(std(f"File {slug}", mime='multipart/mixed; boundary="f-1"', cte=None),
                                            body),
            subject=f"File {slug}", attachments=[att(expected, "application/octet-stream", data)])
    raw_name = multipart("f-2", [part("text/plain", "Raw UTF-8 name.\n"),
                                 attachment_part("", "text/plain", b"x\n", disposition_name='filename="Straße.txt"')])
    add("filename-raw-utf8.eml", message(std("Raw name", mime='multipart/mixed; boundary="f-2"', cte=None), raw_name),
        subject="Raw name", attachments=[att("Straße.txt", "text/plain", b"x\n")])


# ----------------------------------------------------------------------------------------------- replies
QUOTE = "> Dear Ann,\n>\n> we are looking into it.\n>\n> Kind regards,\n> Service Desk\n"
OUTLOOK_HEADER = ("From: Service Desk <desk@example.org>\nSent: Monday, June 3, 2024 10:00 AM\n"
                  "To: Ann Smith <ann.smith@example.com>\nSubject: [INC0000123] Printer on floor 3 is jammed\n\n"
                  "Dear Ann,\n\nwe are looking into it.\n")
REPLIES: list[tuple[str, str, str]] = [
    ("gmail-en", "Thanks, that fixed it.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Service Desk <desk@example.org> "
                 "wrote:\n" + QUOTE, "Thanks, that fixed it."),
    ("gmail-en-wrapped", "Still broken.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Service Desk <\ndesk@example.org> "
                         "wrote:\n\n" + QUOTE, "Still broken."),
    ("gmail-de", "Danke, es geht wieder.\n\nAm Mo., 3. Juni 2024 um 10:00 Uhr schrieb Service Desk <\n"
                 "desk@example.org>:\n\n" + QUOTE, "Danke, es geht wieder."),
    ("gmail-fr", "Merci, c'est réglé.\n\nLe lun. 3 juin 2024 à 10:00, Service Desk <desk@example.org> a écrit :\n"
                 + QUOTE, "Merci, c'est réglé."),
    ("gmail-es", "Gracias, ya funciona.\n\nEl lun, 3 jun 2024 a las 10:00, Service Desk (<desk@example.org>) "
                 "escribió:\n" + QUOTE, "Gracias, ya funciona."),
    ("gmail-nl", "Bedankt, het werkt weer.\n\nOp ma 3 jun. 2024 om 10:00 schreef Service Desk <desk@example.org>:\n"
                 + QUOTE, "Bedankt, het werkt weer."),
    ("outlook-original", "Please close the ticket.\n\nAnn\n\n-----Original Message-----\n" + OUTLOOK_HEADER,
     "Please close the ticket.\n\nAnn"),
    ("outlook-header-block", "Please close the ticket.\n\n" + OUTLOOK_HEADER, "Please close the ticket."),
    ("outlook-rule", "Works now.\n\n________________________________\n" + OUTLOOK_HEADER, "Works now."),
    ("outlook-bold", "Done.\n\n*From:* Service Desk <desk@example.org>\n*Sent:* Monday, June 3, 2024 10:00 AM\n"
                     "*To:* Ann Smith\n*Subject:* [INC0000123] Printer\n\nDear Ann,\n", "Done."),
    ("outlook-de", "Bitte schließen.\n\nVon: Service Desk <desk@example.org>\nGesendet: Montag, 3. Juni 2024 10:00\n"
                   "An: Ann Smith\nBetreff: [INC0000123] Drucker\n\nHallo Ann,\n", "Bitte schließen."),
    ("outlook-de-original", "Erledigt.\n\n-----Ursprüngliche Nachricht-----\nVon: Service Desk\nGesendet: Montag\n"
                            "\nHallo\n", "Erledigt."),
    ("outlook-fr", "C'est bon.\n\nDe : Service Desk <desk@example.org>\nEnvoyé : lundi 3 juin 2024 10:00\n"
                   "À : Ann Smith\nObjet : [INC0000123] Imprimante\n\nBonjour,\n", "C'est bon."),
    ("outlook-es", "Listo.\n\nDe: Service Desk <desk@example.org>\nEnviado: lunes, 3 de junio de 2024 10:00\n"
                   "Para: Ann Smith\nAsunto: [INC0000123] Impresora\n", "Listo."),
    ("outlook-nl", "Opgelost.\n\nVan: Service Desk <desk@example.org>\nVerzonden: maandag 3 juni 2024 10:00\n"
                   "Aan: Ann Smith\nOnderwerp: [INC0000123] Printer\n", "Opgelost."),
    ("apple-en", "It works now.\n\nSent from my iPhone\n\n> On 3 Jun 2024, at 10:00, Service Desk "
                 "<desk@example.org> wrote:\n>\n" + QUOTE, "It works now."),
    ("apple-unquoted-attribution", "Thanks!\n\nOn 3 Jun 2024, at 10:00, Service Desk <desk@example.org> wrote:\n\n"
                                   + QUOTE, "Thanks!"),
    ("apple-de", "Danke!\n\nVon meinem iPhone gesendet\n\n> Am 03.06.2024 um 10:00 schrieb Service Desk "
                 "<desk@example.org>:\n" + QUOTE, "Danke!"),
    ("thunderbird", "Confirmed, closing.\n\n-- \nAnn Smith\nIT Department, Example Corp\n\n"
                    "On 03.06.24 10:00, Service Desk wrote:\n" + QUOTE, "Confirmed, closing."),
    ("thunderbird-sig-no-space", "Confirmed.\n--\nAnn Smith\n", "Confirmed."),
    ("short-attribution", "See below.\n\nService Desk wrote:\n" + QUOTE, "See below."),
    ("inline-answers", "> Is the printer on?\nYes, it is.\n\n> Is there paper?\nPlenty.\n",
     "Yes, it is.\n\nPlenty."),
    ("android-outlook", "On my way.\n\nGet Outlook for Android\n" + OUTLOOK_HEADER, "On my way."),
    ("only-quote", QUOTE, QUOTE.strip()),
    ("only-signature", "-- \nAnn Smith\n", "-- \nAnn Smith"),
    ("wrote-in-sentence", "The vendor wrote: it ships Monday.\nThanks.\n",
     "The vendor wrote: it ships Monday.\nThanks."),
    ("no-history", "A brand new question about my laptop.\n", "A brand new question about my laptop."),
]
SUBJECTS: list[tuple[str, str | None]] = [
    ("Re: [INC0000123] Printer on floor 3 is jammed", "INC0000123"),
    ("AW: [REQ0000042] Neuer Laptop", "REQ0000042"),
    ("SV: [INC0001234] Skrivaren", "INC0001234"),
    ("RE: Fwd: [INC0000007] VPN", "INC0000007"),
    ("Fwd: Re: [REQ0000100] Access to share", "REQ0000100"),
    ("Re: INC0000555 follow-up", "INC0000555"),
    ("Re: Printer", None),
    ("Re: [inc0000321] lower case", "INC0000321"),
    ("[INC12345678] eight digits", "INC12345678"),
    ("Re: [ABC0000123] not ours", None),
    ("Re: INC123 too short", None),
    ("Re: [INC0000123] about REQ0000042 too", "INC0000123"),
    ("WG: AW: [INC0000999] Monitor", "INC0000999"),
    ("TR: [REQ0000001] Badge", "REQ0000001"),
    ("Antw: [INC0000002] Mail", "INC0000002"),
    ("Re: About REQ0000042 and [INC0000077]", "INC0000077"),
    ("Re:[INC0000011]no spaces", "INC0000011"),
    ("Re: [ INC0000012 ] spaced", "INC0000012"),
    ("XINC0000013 glued", None),
    ("Re: Re: Re: [REQ0000014] Chain", "REQ0000014"),
    ("Réf. [INC0000015] accents", "INC0000015"),
    ("Re: INC00000161234567890 too long", None),
    ("Re: [INC0000017]", "INC0000017"),
    ("Re: [INC0000018] [INC0000019] two", "INC0000018"),
    ("Invoice 2024-INC0000020", "INC0000020"),
    ("Re: [REQ0000021]: colon after", "REQ0000021"),
    ("Re: ticket", None),
]


def replies() -> None:
    for index, (slug, text, expected) in enumerate(REPLIES):
        subject, number = SUBJECTS[index % len(SUBJECTS)]
        extra = [("In-Reply-To", "<notify-123.1@desk.example.org>"),
                 ("References", "<notify-123.0@desk.example.org>\n <notify-123.1@desk.example.org>")]
        add(f"reply-{slug}.eml", message(std(subject, extra=extra, cte="8bit"), text), subject=subject, number=number,
            reply=expected, in_reply_to="notify-123.1@desk.example.org",
            references=["notify-123.0@desk.example.org", "notify-123.1@desk.example.org"])
    for index, (subject, number) in enumerate(SUBJECTS):
        add(f"subject-number-{index:02d}.eml", message(std(subject), "Number test.\n"), subject=subject, number=number)
    html = ('<div>Fixed, thanks.</div><div><br></div><div class="gmail_quote"><div>On Mon, Jun 3, 2024 at 10:00 AM '
            'Service Desk &lt;desk@example.org&gt; wrote:<br></div><blockquote>Dear Ann,<br>we are looking into it.'
            '</blockquote></div>\n')
    add("reply-gmail-html-only.eml", message(std("Re: [INC0000123] Printer", mime="text/html; charset=utf-8"), html),
        subject="Re: [INC0000123] Printer", number="INC0000123", reply="Fixed, thanks.")
    outlook_html = ('<html><body><p>Please close it.</p><div style="border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> '
                    'Service Desk &lt;desk@example.org&gt;<br><b>Sent:</b> Monday, June 3, 2024 10:00 AM<br><b>To:</b>'
                    ' Ann Smith<br><b>Subject:</b> [INC0000123] Printer</p></div><p>Dear Ann,</p></body></html>\n')
    add("reply-outlook-html-only.eml",
        message(std("RE: [INC0000123] Printer", mime="text/html; charset=utf-8"), outlook_html),
        subject="RE: [INC0000123] Printer", number="INC0000123", reply="Please close it.")


# ---------------------------------------------------------------------------------------- auto-replies
def auto_replies() -> None:
    cases: list[tuple[str, list[tuple[str, str]], str, str]] = [
        ("exchange-oof", [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
                          ("X-MS-Exchange-Inbox-Rules-Loop", "ann.smith@example.com"),
                          ("Content-Language", "en-US")], "Automatic reply: [INC0000123] Printer", "auto_reply"),
        ("exchange-oof-suppress-only", [("X-Auto-Response-Suppress", "All")], "Automatic reply: Printer",
         "auto_reply"),
        ("exchange-oof-legacy", [("X-Auto-Response-Suppress", "DR, RN, NRN, OOF, AutoReply")],
         "Out of Office: Printer", "auto_reply"),
        ("gmail-vacation", [("Auto-Submitted", "auto-replied")], "Re: [INC0000123] Printer", "auto_reply"),
        ("auto-generated", [("Auto-Submitted", "auto-generated")], "Monitoring: disk full", "auto_reply"),
        ("auto-notified", [("Auto-Submitted", "auto-notified; owner-email=\"a@example.com\"")], "Sieve notice",
         "auto_reply"),
        ("auto-submitted-no", [("Auto-Submitted", "no")], "A person wrote this", "ticketable"),
        ("auto-submitted-no-case", [("Auto-Submitted", " No ")], "A person again", "ticketable"),
        ("precedence-bulk", [("Precedence", "bulk")], "Newsletter June", "auto_reply"),
        ("precedence-junk", [("Precedence", "junk")], "Vacation", "auto_reply"),
        ("precedence-auto-reply", [("Precedence", "auto_reply")], "I am away", "auto_reply"),
        ("precedence-first-class", [("Precedence", "first-class")], "Urgent laptop", "ticketable"),
        ("x-autoreply", [("X-Autoreply", "yes")], "Away", "auto_reply"),
        ("x-autorespond", [("X-Autorespond", "Thanks for your message")], "Thanks", "auto_reply"),
        ("suppress-oof", [("X-Auto-Response-Suppress", "OOF")], "Suppress OOF", "auto_reply"),
        ("suppress-autoreply", [("X-Auto-Response-Suppress", "AutoReply")], "Suppress AutoReply", "auto_reply"),
        ("suppress-dr-rn", [("X-Auto-Response-Suppress", "DR, RN, NRN")], "Receipts only", "ticketable"),
        ("subject-oof-en", [], "Out of Office: [INC0000123] Printer", "auto_reply"),
        ("subject-oof-de", [], "Abwesenheitsnotiz: [INC0000123] Drucker", "auto_reply"),
        ("subject-oof-de-auto", [], "Automatische Antwort: Drucker", "auto_reply"),
        ("subject-oof-fr", [], "Réponse automatique : Imprimante", "auto_reply"),
        ("subject-oof-es", [], "Respuesta automática: Impresora", "auto_reply"),
        ("subject-oof-nl", [], "Automatisch antwoord: Printer", "auto_reply"),
        ("subject-oof-automatic-reply", [], "Automatic reply: Printer", "auto_reply"),
        ("subject-out-of-office-words", [], "Out of office printer is broken", "ticketable"),
        ("subject-oof-in-middle", [], "My colleague sent an out of office: ignore", "ticketable"),
    ]
    for slug, headers, subject, kind in cases:
        number = "INC0000123" if "INC0000123" in subject else None
        add(f"auto-{slug}.eml", message(std(subject, extra=headers), "I am out of the office until Monday.\n"),
            subject=subject, kind=kind, number=number)
    mdn = multipart("mdn-1", [
        part("text/plain", "Your message was displayed.\n"),
        part("message/disposition-notification",
             "Reporting-UA: mail.example.com\nFinal-Recipient: rfc822;ann.smith@example.com\n"
             "Original-Message-ID: <notify-1@desk.example.org>\nDisposition: manual-action/MDN-sent-manually; "
             "displayed\n"),
    ])
    add("auto-read-receipt.eml",
        message(std("Read: Printer", mime='multipart/report; report-type=disposition-notification; '
                                          'boundary="mdn-1"', cte=None), mdn),
        subject="Read: Printer", kind="auto_reply")


# --------------------------------------------------------------------------------------------- bounces
def dsn(boundary: str, reporting: str, recipient: str, status: str, original_subject: str) -> str:
    return multipart(boundary, [
        part("text/plain; charset=us-ascii", f"This is the mail system at host {reporting}.\n\n"
             "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n"),
        part("message/delivery-status", f"Reporting-MTA: dns; {reporting}\nArrival-Date: Mon, 3 Jun 2024 10:00:00 "
             f"+0200\n\nFinal-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
             f"Action: failed\nStatus: {status}\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n"),
        part("message/rfc822", f"From: {DESK}\nTo: {recipient}\nSubject: {original_subject}\n"
             "Message-ID: <notify-9.1@desk.example.org>\nX-Outcomedesk-Loop: desk.example.org\n\nYour ticket.\n"),
    ])


def bounces() -> None:
    add("bounce-postfix-dsn.eml",
        message(std("Undelivered Mail Returned to Sender", sender="MAILER-DAEMON@mx.example.com (Mail Delivery System)",
                    mime='multipart/report; report-type=delivery-status; boundary="dsn-1"', cte=None,
                    extra=[("Auto-Submitted", "auto-replied")]),
                dsn("dsn-1", "mx.example.com", "gone@example.com", "5.1.1", "[INC0000123] Printer")),
        subject="Undelivered Mail Returned to Sender", kind="bounce", attachment_count=2)
    add("bounce-exchange-ndr.eml",
        message(std("Undeliverable: [INC0000123] Printer", sender="postmaster@example.com",
                    mime='multipart/report; report-type=delivery-status; boundary="ndr-1"', cte=None),
                dsn("ndr-1", "EXCH01.example.com", "left@example.com", "5.1.10", "[INC0000123] Printer")),
        subject="Undeliverable: [INC0000123] Printer", kind="bounce", number="INC0000123")
    add("bounce-gmail.eml",
        message(std("Delivery Status Notification (Failure)",
                    sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
                    mime='multipart/report; report-type=delivery-status; boundary="g-1"', cte=None),
                dsn("g-1", "mx.google.com", "typo@example.con", "5.1.2", "Hello")),
        subject="Delivery Status Notification (Failure)", kind="bounce", sender="mailer-daemon@googlemail.com")
    add("bounce-qmail-plain.eml",
        message(std("failure notice", sender="MAILER-DAEMON@old.example.net"),
                "Hi. This is the qmail-send program at old.example.net.\nI'm afraid I wasn't able to deliver "
                "your message.\n"),
        subject="failure notice", kind="bounce")
    add("bounce-postmaster-plain.eml",
        message(std("Message delayed", sender="Postmaster <POSTMASTER@example.net>"), "Still trying.\n"),
        subject="Message delayed", kind="bounce")
    add("bounce-null-return-path.eml",
        message([("Return-Path", "<>"), *std("Returned mail", sender="mail-system@example.net")], "Returned.\n"),
        subject="Returned mail", kind="bounce")
    add("bounce-report-no-type.eml",
        message(std("Report", mime='multipart/report; boundary="r-1"', cte=None),
                multipart("r-1", [part("text/plain", "Delivery failed.\n")])),
        subject="Report", kind="bounce")
    add("bounce-return-path-real.eml",
        message([("Return-Path", "<ann.smith@example.com>"), *std("Return path set")], "Normal mail.\n"),
        subject="Return path set", kind="ticketable")


# ------------------------------------------------------------------------------------ lists and loops
def lists_and_loops() -> None:
    add("list-mailman.eml",
        message(std("[it-users] Printer drivers", extra=[
            ("List-Id", "IT users <it-users.lists.example.com>"), ("Precedence", "list"),
            ("List-Unsubscribe", "<mailto:it-users-leave@lists.example.com>")]), "List traffic.\n"),
        subject="[it-users] Printer drivers", kind="auto_reply")
    add("list-bulk-newsletter.eml",
        message(std("June newsletter", extra=[("Precedence", "bulk"), ("List-Unsubscribe", "<https://x.example>")]),
                "News.\n"),
        subject="June newsletter", kind="auto_reply")
    add("list-id-only.eml",
        message(std("Forwarded through a list", extra=[("List-Id", "<team.lists.example.com>")]), "Hello.\n"),
        subject="Forwarded through a list", kind="ticketable")
    add("list-google-groups.eml",
        message(std("Re: [team] Lunch", extra=[("List-Id", "<team.example.com>"), ("Precedence", "list"),
                                              ("Mailing-list", "list team@example.com")]), "Lunch?\n"),
        subject="Re: [team] Lunch", kind="auto_reply")
    add("loop-header.eml",
        message(std("[INC0000123] We received your request", sender=DESK,
                    extra=[("X-Outcomedesk-Loop", "desk.example.org")]), "Our own notification.\n"),
        subject="[INC0000123] We received your request", number="INC0000123", kind="loop")
    add("loop-own-message-id.eml",
        message(std("[INC0000124] Update", sender=DESK, message_id="<notify-124.3@desk.example.org>"), "Ours.\n"),
        subject="[INC0000124] Update", number="INC0000124", kind="loop", own_domain="desk.example.org")
    add("loop-own-message-id-case.eml",
        message(std("Update", sender=DESK, message_id="<notify-125.3@Desk.Example.ORG>"), "Ours.\n"),
        subject="Update", kind="loop", own_domain="desk.example.org")
    add("loop-sister-domain.eml",
        message(std("From Exchange", message_id="<abc@exchange.desk.example.org>"), "Not ours.\n"),
        subject="From Exchange", kind="ticketable", own_domain="desk.example.org")


# -------------------------------------------------------------------------------------------- forwards
def forwards() -> None:
    inner = ("From: Bob Jones <bob@example.net>\nTo: ann.smith@example.com\nSubject: Server room too hot\n"
             "Date: Sun, 02 Jun 2024 22:00:00 +0200\nMessage-ID: <inner-1@example.net>\n"
             "Content-Type: text/plain; charset=utf-8\n\nThe server room is at 35 °C.\n")
    add("forward-attached.eml",
        message(std("Fwd: Server room too hot", mime='multipart/mixed; boundary="fw-1"', cte=None),
                multipart("fw-1", [part("text/plain", "Please look at this.\n"),
                                   "Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + inner])),
        subject="Fwd: Server room too hot", body_text="Please look at this.", attachment_count=1,
        attachment_names=["Server room too hot.eml"], inner_subject="Server room too hot")
    nested = ("From: Carol <carol@example.org>\nTo: bob@example.net\nSubject: Fwd: Server room too hot\n"
              "Message-ID: <inner-2@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"fw-in\""
              "\n\n" + multipart("fw-in", [part("text/plain", "FYI.\n"),
                                          "Content-Type: message/rfc822\n\n" + inner]))
    add("forward-nested-twice.eml",
        message(std("Fwd: Fwd: Server room too hot", mime='multipart/mixed; boundary="fw-2"', cte=None),
                multipart("fw-2", [part("text/plain", "Twice forwarded.\n"),
                                   "Content-Type: message/rfc822\n\n" + nested])),
        subject="Fwd: Fwd: Server room too hot", body_text="Twice forwarded.",
        attachment_names=["Fwd_ Server room too hot.eml"], inner_subject="Fwd: Server room too hot")
    add("forward-inline-rfc822.eml",
        message(std("Fwd: inline", mime='multipart/mixed; boundary="fw-3"', cte=None),
                multipart("fw-3", [part("text/plain", "Inline forward.\n"),
                                   "Content-Type: message/rfc822\nContent-Disposition: inline\n\n" + inner])),
        subject="Fwd: inline", attachment_names=["Server room too hot.eml"])
    add("forward-gmail-inline-text.eml",
        message(std("Fwd: Server room too hot"),
                "Can you check?\n\n---------- Forwarded message ---------\nFrom: Bob Jones <bob@example.net>\n"
                "Date: Sun, Jun 2, 2024 at 10:00 PM\nSubject: Server room too hot\nTo: <ann.smith@example.com>\n\n"
                "The server room is at 35 C.\n"),
        subject="Fwd: Server room too hot", body_contains=["The server room is at 35 C."],
        reply="Can you check?\n\n---------- Forwarded message ---------")
    add("forward-outlook-text.eml",
        message(std("FW: Server room"),
                "FYI\n\nFrom: Bob Jones <bob@example.net>\nSent: Sunday, June 2, 2024 10:00 PM\nTo: Ann\n"
                "Subject: Server room\n\nHot.\n"),
        subject="FW: Server room", body_contains=["Hot."], reply="FYI")
    add("forward-8bit-inner.eml",
        message(std("Fwd: Umlaute", mime='multipart/mixed; boundary="fw-4"', cte=None),
                multipart("fw-4", [part("text/plain", "Weitergeleitet.\n"),
                                   "Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n"
                                   "From: a@example.de\nSubject: Grüße\nContent-Type: text/plain; charset=utf-8\n"
                                   "Content-Transfer-Encoding: 8bit\n\nSchöne Grüße\n"])),
        subject="Fwd: Umlaute", attachment_names=["Grüße.eml"])


# ------------------------------------------------------------------------------------- winmail.dat (TNEF)
def tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    """One TNEF attribute as [MS-OXTNEF] 2.1.3 lays it out: level, id, type, length, data, checksum."""
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi_unicode(prop: int, value: str) -> bytes:
    """A MAPI property block holding one PT_UNICODE property (e.g. PR_ATTACH_LONG_FILENAME, 0x3707)."""
    encoded = value.encode("utf-16-le") + b"\x00\x00"
    padded = encoded + b"\x00" * (-len(encoded) % 4)
    return struct.pack("<IHHII", 1, 0x001F, prop, 1, len(encoded)) + padded


def tnef(files: list[tuple[str, bytes, str | None]], body: str | None = None) -> bytes:
    out = struct.pack("<IH", 0x223E9F78, 0x0001)  # signature, legacy key
    out += tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += tnef_attribute(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    if body is not None:
        out += tnef_attribute(1, 0x800C, 0x0002, body.encode("cp1252"))  # attBody
    for short_name, data, long_name in files:
        out += tnef_attribute(2, 0x9002, 0x0006, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRendData
        out += tnef_attribute(2, 0x8010, 0x0001, short_name.encode("cp1252") + b"\x00")  # attAttachTitle
        out += tnef_attribute(2, 0x800F, 0x0006, data)  # attAttachData
        if long_name:
            out += tnef_attribute(2, 0x9005, 0x0006, mapi_unicode(0x3707, long_name))  # attAttachment
    return out


def winmail() -> None:
    docx = b"PK\x03\x04" + bytes(range(256)) * 4
    cases: list[tuple[str, bytes, list[list[Any]], dict[str, Any]]] = [
        ("one-file", tnef([("REPORT.PDF", PDF, None)]), [att("REPORT.PDF", "application/pdf", PDF, winmail=True)],
         {}),
        ("two-files-long-name", tnef([("QUARTE~1.DOC", docx, "Quarterly report 2024.docx"),
                                      ("IMAGE.PNG", PNG, None)]),
         [att("Quarterly report 2024.docx",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx, winmail=True),
          att("IMAGE.PNG", "image/png", PNG, winmail=True)], {}),
        ("body-only", tnef([("NOTES.TXT", b"notes\r\n", None)], body="Text only inside winmail.dat"),
         [att("NOTES.TXT", "text/plain", b"notes\r\n", winmail=True)], {"body_contains": ["inside winmail.dat"]}),
        ("latin1-short-name", tnef([("GR\xdcSSE.TXT", b"hallo\r\n", None)]),
         [att("GRÜSSE.TXT", "text/plain", b"hallo\r\n", winmail=True)], {}),
    ]
    for slug, data, expected, more in cases:
        parts = [attachment_part("winmail.dat", "application/ms-tnef", data)]
        if "body_contains" not in more:
            parts.insert(0, part("text/plain", "Outlook sent this as rich text.\n"))
        add(f"winmail-{slug}.eml",
            message(std(f"winmail {slug}", mime='multipart/mixed; boundary="tnef-1"', cte=None),
                    multipart("tnef-1", parts)),
            subject=f"winmail {slug}", attachments=expected, **more)
    broken = b"\x78\x9f\x3e\x22\x01\x00" + b"\x00" * 3  # the signature cut short
    for slug, data in (("truncated", broken), ("bad-signature", b"NOT TNEF AT ALL" * 4)):
        add(f"winmail-{slug}.eml",
            message(std(f"winmail {slug}", mime='multipart/mixed; boundary="tnef-2"', cte=None),
                    multipart("tnef-2", [part("text/plain", "Broken winmail.\n"),
                                         attachment_part("winmail.dat", "application/ms-tnef", data)])),
            subject=f"winmail {slug}", attachments=[att("winmail.dat", "application/ms-tnef", data)], problems=True)


# ---------------------------------------------------------------------------------------- broken MIME
def broken() -> None:
    add("broken-missing-end-boundary.eml",
        message(std("No end boundary", mime='multipart/mixed; boundary="b-1"', cte=None),
                multipart("b-1", [part("text/plain", "Text before the cut.\n"),
                                  attachment_part("a.pdf", "application/pdf", PDF)], close=False)),
        subject="No end boundary", body_contains=["Text before the cut."], problems=True,
        attachments=[att("a.pdf", "application/pdf", PDF)])
    add("broken-boundary-never-appears.eml",
        message(std("Boundary missing", mime='multipart/mixed; boundary="never"', cte=None),
                "Text without any boundary.\n"),
        subject="Boundary missing", body_contains=["Text without any boundary."], problems=True)
    add("broken-multipart-no-boundary-param.eml",
        message(std("No boundary parameter", mime="multipart/mixed", cte=None), "--x\nText.\n--x--\n"),
        subject="No boundary parameter", body_contains=["Text."], problems=True)
    padded = b64(PDF).replace("\n", "").rstrip("=")
    add("broken-base64-padding.eml",
        message(std("Bad padding", mime='multipart/mixed; boundary="b-2"', cte=None),
                multipart("b-2", [part("text/plain", "Padding.\n"),
                                  part('application/pdf; name="p.pdf"', padded[:-1] + "\n", cte="base64",
                                       extra='Content-Disposition: attachment; filename="p.pdf"\n')])),
        subject="Bad padding", problems=True, attachment_names=["p.pdf"])
    add("broken-base64-garbage.eml",
        message(std("Garbage in base64", mime="text/plain; charset=utf-8", cte="base64"),
                "SGVsbG8g!!!V29y\nbGQh*\n"),
        subject="Garbage in base64", body_contains=["Hello"], problems=True)
    add("broken-base64-text-body.eml",
        message(std("Truncated base64", mime="text/plain; charset=utf-8", cte="base64"), "SGVsbG8gV29ybGQ\n"),
        subject="Truncated base64", body_contains=["Hello World"], problems=True)
    add("broken-quoted-printable.eml",
        message(std("Bad QP", mime="text/plain; charset=utf-8", cte="quoted-printable"),
                "Soft break=\nhere, bad escape =ZZ, good =C3=BC, trailing =\n"),
        subject="Bad QP", body_contains=["Soft breakhere", "=ZZ", "ü"])
    add("broken-header-without-colon.eml",
        message("From: " + ANN + "\nSubject: Header without colon\nThis line is no header\nTo: desk@example.org\n",
                "Body.\n"),
        subject="Header without colon", sender="ann.smith@example.com", problems=True)
    add("broken-junk-before-headers.eml",
        b"220 mx.example.com ESMTP ready\r\n" + message(std("Junk first"), "Body after junk.\n"),
        subject="Junk first", body_contains=["Body after junk."], problems=True)
    raw_8bit = ("From: Jörg Müller <joerg@example.de>\nTo: desk@example.org\nSubject: Drucker kaputt – schnell!\n"
                "Date: Mon, 03 Jun 2024 10:00:00 +0200\nMessage-ID: <raw8@example.de>\n\nBody.\n").encode()
    add("broken-8bit-headers-utf8.eml", raw_8bit,
        subject="Drucker kaputt – schnell!", sender_name="Jörg Müller", sender="joerg@example.de")
    raw_latin1 = ("From: Jörg Müller <joerg@example.de>\nTo: desk@example.org\nSubject: Grüße aus Köln\n"
                  "Date: Mon, 03 Jun 2024 10:00:00 +0200\nMessage-ID: <raw8l@example.de>\n\nBody.\n").encode("latin-1")
    add("broken-8bit-headers-latin1.eml", raw_latin1, subject="Grüße aus Köln", sender_name="Jörg Müller")
    add("broken-missing-from.eml",
        message([(k, v) for k, v in std("No From") if k != "From"] + [("Reply-To", "Ann <ann@example.com>")],
                "Who am I?\n"),
        subject="No From", sender="ann@example.com", sender_name="Ann", problems=True)
    add("broken-missing-from-sender-only.eml",
        message([(k, v) for k, v in std("Sender only") if k != "From"] + [("Sender", "bob@example.net")], "Hi.\n"),
        subject="Sender only", sender="bob@example.net", problems=True)
    add("broken-missing-from-return-path.eml",
        message([("Return-Path", "<carol@example.org>")] + [(k, v) for k, v in std("Return-Path only")
                                                            if k != "From"], "Hi.\n"),
        subject="Return-Path only", sender="carol@example.org", problems=True)
    add("broken-no-sender-at-all.eml",
        message([(k, v) for k, v in std("Nobody") if k != "From"], "Anonymous.\n"),
        subject="Nobody", sender="", problems=True)
    add("broken-from-without-address.eml",
        message([("From", "Just A Name")] + [(k, v) for k, v in std("Name only") if k != "From"], "Hm.\n"),
        subject="Name only", sender="", problems=True)
    add("broken-missing-message-id.eml",
        message([(k, v) for k, v in std("No Message-ID") if k != "Message-ID"], "No id.\n"),
        subject="No Message-ID", message_id_synthetic=True, problems=True)
    add("broken-missing-date.eml", message([(k, v) for k, v in std("No Date") if k != "Date"], "Undated.\n"),
        subject="No Date", date=None, problems=True)
    add("broken-bad-date.eml",
        message([(k, "yesterday afternoon" if k == "Date" else v) for k, v in std("Bad Date")], "When?\n"),
        subject="Bad Date", date=None, problems=True)
    add("broken-date-no-zone.eml",
        message([(k, "Mon, 03 Jun 2024 10:00:00 -0000" if k == "Date" else v) for k, v in std("Zone -0000")],
                "UTC.\n"),
        subject="Zone -0000", date="2024-06-03T10:00:00+00:00")
    add("broken-date-named-zone.eml",
        message([(k, "Mon, 03 Jun 2024 10:00:00 PST" if k == "Date" else v) for k, v in std("Zone PST")], "PST.\n"),
        subject="Zone PST", date="2024-06-03T10:00:00-08:00")
    add("broken-duplicate-subject.eml",
        message([*std("First subject"), ("Subject", "Second subject")], "Two subjects.\n"),
        subject="First subject", problems=True)
    add("broken-duplicate-from.eml",
        message([*std("Two From"), ("From", "mallory@example.net")], "Two senders.\n"),
        subject="Two From", sender="ann.smith@example.com", problems=True)
    add("broken-duplicate-message-id.eml",
        message([*std("Two ids", message_id="<first@example.com>"), ("Message-ID", "<second@example.com>")],
                "Two ids.\n"),
        subject="Two ids", message_id="first@example.com", problems=True)
    add("broken-message-id-bare.eml",
        message(std("Bare id", message_id="bare-id-1234@example.com"), "Bare.\n"),
        subject="Bare id", message_id="bare-id-1234@example.com")
    add("broken-message-id-comment.eml",
        message(std("Id with comment", message_id="<with-comment@example.com> (Ann's laptop)"), "Comment.\n"),
        subject="Id with comment", message_id="with-comment@example.com")
    add("broken-in-reply-to-junk.eml",
        message(std("Threading junk", extra=[("In-Reply-To", "<parent@example.org> (Ann Smith's message of "
                                                              "\"Mon, 3 Jun\")"),
                                             ("References", "<a@example.org>\n\t<b@example.org> <parent@example.org>"
                                                            "\n <a@example.org>")]), "Thread.\n"),
        subject="Threading junk", in_reply_to="parent@example.org",
        references=["a@example.org", "b@example.org", "parent@example.org"])
    add("broken-unknown-transfer-encoding.eml",
        message(std("Unknown CTE", cte="x-rot13"), "Plain enough.\n"), subject="Unknown CTE",
        body_contains=["Plain enough."])
    add("broken-content-type-garbage.eml",
        message(std("CT garbage", mime="garbage"), "Still text.\n"), subject="CT garbage",
        body_contains=["Still text."], problems=True)
    add("broken-undisclosed-recipients.eml",
        message(std("Group", to="undisclosed-recipients:;"), "Group syntax.\n"), subject="Group", to=[])
    add("broken-encoded-display-name-comma.eml",
        message(std("Comma name", sender="=?utf-8?Q?M=C3=BCller=2C_Hans?= <Hans.Mueller@Example.DE>"), "Name.\n"),
        subject="Comma name", sender="Hans.Mueller@example.de", sender_name="Müller, Hans")
    add("broken-huge-to-header.eml",
        message(std("Huge To", to=", ".join(f"user{i}@example.com" for i in range(8000))), "Many.\n"),
        subject="Huge To", problems=True)
    add("broken-no-body-separator.eml", message(std("No body", mime=None), b"").rstrip(b"\r\n"),
        subject="No body", body_text="")
    add("broken-headers-only-lf.eml", b"Subject: only a subject\n", subject="only a subject", sender="",
        problems=True)


# ------------------------------------------------------------------------------------------------ garbage
def garbage() -> None:
    rng = random.Random(13)
    add("garbage-empty.eml", b"", malformed=True)
    add("garbage-whitespace.eml", b"\r\n\r\n   \r\n", malformed=True)
    add("garbage-random-bytes.eml", bytes(rng.randrange(256) for _ in range(4096)), malformed=True)
    add("garbage-png.eml", PNG, malformed=True)
    add("garbage-json.eml", b'{"subject": "not an e-mail", "from": "x@example.com"}\n', malformed=True)
    add("garbage-sentence.eml", b"hello world\nthis is not an e-mail at all\n", malformed=True)
    add("garbage-html.eml", b"<!DOCTYPE html><html><body>Not mail</body></html>\n", malformed=True)
    add("garbage-unknown-header.eml", b"Foo: bar\nBaz: qux\n\nbody\n", malformed=True)


def build() -> dict[str, tuple[bytes, dict[str, Any]]]:
    global _counter
    CASES.clear()
    _counter = 0
    for family in (charsets, structures, filenames, replies, auto_replies, bounces, lists_and_loops, forwards,
                   winmail, broken, garbage):
        family()
    return dict(CASES)


def write(out: Path) -> None:
    cases = build()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.eml"):
        if old.name not in cases:
            old.unlink()
    for name, (data, _) in cases.items():
        (out / name).write_bytes(data)
    manifest = {name: expect for name, (_, expect) in sorted(cases.items())}
    (out / "expected.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                                       encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(CASES)} messages")
