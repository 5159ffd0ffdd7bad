"""The e-mail parser of intake: every message of the corpus read as expected, bad input only ever a
MalformedMessage, huge attachments read in linear time. No database, no mocks."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomedesk.core.errors import InvalidInput
from outcomedesk.intake.email.message import (
    Kind,
    MalformedMessage,
    ParsedMessage,
    classify,
    parse_message,
    reply_text,
    ticket_number_in,
    trim_reply,
)

CORPUS = Path(__file__).parent / "mail_corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
MESSAGES = sorted(p.name for p in CORPUS.glob("*.eml"))


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mail(body: bytes = b"Hello.\r\n", **headers: str) -> bytes:
    fields = {"From": "Ann Smith <ann@example.com>", "To": "desk@example.org", "Subject": "Hi",
              "Message-ID": "<m1@example.com>", "Date": "Mon, 03 Jun 2024 10:00:00 +0200"}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return head.encode() + b"\r\n" + body


# --------------------------------------------------------------------------------------------- the corpus
def test_the_corpus_has_over_200_messages_and_an_expectation_for_each() -> None:
    assert len(MESSAGES) >= 200
    assert set(MESSAGES) == set(EXPECTED)


def test_regenerating_the_corpus_gives_identical_files(tmp_path: Path) -> None:
    load_generator().write(tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted([*MESSAGES, "expected.json"])
    for name in made:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


@pytest.mark.parametrize("name", MESSAGES)
def test_each_corpus_message_reads_as_expected(name: str) -> None:
    expect = EXPECTED[name]
    raw = corpus(name)
    if expect.get("malformed"):
        with pytest.raises(MalformedMessage):
            parse_message(raw)
        return
    msg = parse_message(raw)
    own = expect.get("own_domain", "desk.example.org")
    assert classify(msg, own).value == expect["kind"]
    assert ticket_number_in(msg.subject) == expect["number"]
    for key in ("subject", "sender", "sender_name", "message_id", "message_id_synthetic", "in_reply_to",
                "body_text"):
        if key in expect:
            assert getattr(msg, key) == expect[key], key
    if "to" in expect:
        assert list(msg.to) == expect["to"]
    if "references" in expect:
        assert list(msg.references) == expect["references"]
    if "date" in expect:
        assert (msg.date.isoformat() if msg.date else None) == expect["date"]
    for text in expect.get("body_contains", []):
        assert text in msg.body_text
    for text in expect.get("body_not_contains", []):
        assert text not in msg.body_text
    for text in expect.get("html_contains", []):
        assert text in msg.body_html
    for text in expect.get("html_not_contains", []):
        assert text not in msg.body_html
    if "reply" in expect:
        assert reply_text(msg) == expect["reply"]
    if "attachments" in expect:
        found = [[a.filename, a.content_type, hashlib.sha256(a.data).hexdigest(), a.inline, a.content_id,
                  a.from_winmail] for a in msg.attachments]
        assert found == expect["attachments"]
    if "attachment_names" in expect:
        assert [a.filename for a in msg.attachments] == expect["attachment_names"]
    if "attachment_count" in expect:
        assert len(msg.attachments) == expect["attachment_count"]
    if "problems" in expect:
        assert bool(msg.problems) == expect["problems"], msg.problems
    if "inner_subject" in expect:
        assert parse_message(msg.attachments[-1].data).subject == expect["inner_subject"]
    assert msg.date is None or msg.date.tzinfo is not None
    for text in (msg.subject, msg.body_text, msg.body_html, msg.sender_name, *(a.filename for a in msg.attachments)):
        text.encode("utf-8")  # no lone surrogates: every string can be stored


def test_the_corpus_covers_every_kind_and_feature() -> None:
    kinds = {e.get("kind") for e in EXPECTED.values()}
    assert {"ticketable", "auto_reply", "bounce", "loop"} <= kinds
    assert sum(1 for e in EXPECTED.values() if e.get("malformed")) >= 6
    assert sum(1 for name in EXPECTED if name.startswith("winmail-")) >= 4
    assert sum(1 for name in EXPECTED if name.startswith("reply-")) >= 20


# ------------------------------------------------------------------------------------------ parse_message
def test_it_decodes_subjects_in_every_charset() -> None:
    msg = parse_message(corpus("charset-koi8-r-base64.eml"))
    assert msg.subject == "Привет, принтер не работает"
    assert msg.body_text.startswith("Привет, принтер не работает")
    assert parse_message(corpus("charset-iso-2022-jp-8bit.eml")).subject == "会議室のプロジェクターが壊れました"
    assert parse_message(corpus("charset-shift_jis-quoted-printable.eml")).subject == "プリンターが動きません"


def test_the_same_message_without_message_id_gets_the_same_synthetic_id_twice() -> None:
    raw = mail(Message_ID=None)  # type: ignore[arg-type]
    first, second = parse_message(raw), parse_message(raw)
    assert first.message_id_synthetic
    assert first.message_id == second.message_id == f"{hashlib.sha256(raw).hexdigest()}@synthetic.outcomedesk.invalid"
    assert parse_message(raw + b"x").message_id != first.message_id
    assert "no Message-ID; a synthetic one is derived from the message's bytes" in first.problems


def test_it_reads_addresses_ids_and_dates() -> None:
    msg = parse_message(mail(
        From='"Smith, Ann" <Ann.Smith@EXAMPLE.com>', Cc="bob@example.org, Carol <carol@example.org>",
        In_Reply_To="<n2@desk.example.org>", References="<n1@desk.example.org> <n2@desk.example.org>",
        Reply_To="helpdesk-replies@example.com"))
    assert (msg.sender, msg.sender_name) == ("Ann.Smith@example.com", "Smith, Ann")
    assert msg.cc == ("bob@example.org", "carol@example.org")
    assert msg.reply_to == ("helpdesk-replies@example.com",)
    assert msg.thread_ids == ("n2@desk.example.org", "n1@desk.example.org")
    assert msg.date == datetime.fromisoformat("2024-06-03T10:00:00+02:00")
    assert msg.header("subject") == "Hi" and msg.headers_named("X-None") == []
    assert msg.problems == ()


def test_inline_images_keep_their_content_id_for_the_html() -> None:
    msg = parse_message(corpus("related-inline-image.eml"))
    (image,) = msg.inline_images
    assert f'src="cid:{image.content_id}"' in msg.body_html
    assert image.data.startswith(b"\x89PNG")


def test_winmail_dat_is_replaced_by_the_files_inside_it() -> None:
    msg = parse_message(corpus("winmail-two-files-long-name.eml"))
    assert [a.filename for a in msg.attachments] == ["Quarterly report 2024.docx", "IMAGE.PNG"]
    assert all(a.from_winmail for a in msg.attachments)
    broken = parse_message(corpus("winmail-bad-signature.eml"))
    assert [a.filename for a in broken.attachments] == ["winmail.dat"]
    assert any("winmail.dat cannot be read" in p for p in broken.problems)


def test_a_20_mb_attachment_is_read_whole_in_linear_time() -> None:
    data = hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32)
    encoded = base64.encodebytes(data)
    body = (b'--b\r\nContent-Type: text/plain\r\n\r\nBig file.\r\n--b\r\nContent-Type: application/octet-stream\r\n'
            b'Content-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + encoded.replace(b"\n", b"\r\n") + b"--b--\r\n")
    raw = mail(body, MIME_Version="1.0", Content_Type='multipart/mixed; boundary="b"')
    started = time.perf_counter()
    msg = parse_message(raw, max_bytes=64 * 1024 * 1024)
    elapsed = time.perf_counter() - started
    (attachment,) = msg.attachments
    assert attachment.filename == "big.bin" and attachment.size == len(data) and attachment.data == data
    assert msg.body_text == "Big file."
    assert elapsed < 30, f"{elapsed:.1f} s for 20 MB"  # about 1-2 s; quadratic work would take minutes


def test_a_message_over_the_limit_is_refused_unread() -> None:
    raw = mail(b"x" * 1000)
    with pytest.raises(MalformedMessage, match=rf"the message is {len(raw)} bytes; the limit is 500"):
        parse_message(raw, max_bytes=500)


def test_the_limit_comes_from_the_setting(settings: Any) -> None:
    settings.OUTCOMEDESK_MAIL_MAX_BYTES = 100
    with pytest.raises(MalformedMessage, match="the limit is 100"):
        parse_message(mail(b"y" * 200))
    settings.OUTCOMEDESK_MAIL_MAX_BYTES = 25 * 1024 * 1024
    assert parse_message(mail(b"y" * 200)).body_text == "y" * 200


def test_a_bad_limit_setting_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTCOMEDESK_", "DJANGO_", "DATABASE_URL"))}
    env.update(OUTCOMEDESK_DATA_DIR=str(tmp_path), OUTCOMEDESK_MAIL_MAX_BYTES="lots")
    result = subprocess.run([sys.executable, "-m", "outcomedesk", "check"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "OUTCOMEDESK_MAIL_MAX_BYTES='lots' is not an integer" in result.stderr


def test_malformed_message_is_an_invalid_input_and_a_value_error_with_the_reason() -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_message(b"")
    assert isinstance(caught.value, InvalidInput) and isinstance(caught.value, ValueError)
    assert caught.value.reason == "the message is empty"
    assert caught.value.field == "message"
    with pytest.raises(MalformedMessage, match="not an RFC 5322 message"):
        parse_message(b"hello world\n")
    with pytest.raises(MalformedMessage, match="must be bytes"):
        parse_message("Subject: text\n\nnot bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_only_ever_raise_malformed_message(raw: bytes) -> None:
    try:
        msg = parse_message(raw)
    except MalformedMessage:
        return
    classify(msg)
    reply_text(msg)
    ticket_number_in(msg.subject)


MIME_BITS = [b"Subject: ", b"From: ", b"Content-Type: multipart/mixed; boundary=b\r\n", b"--b\r\n", b"--b--\r\n",
             b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
             b"=?utf-8?B?", b"=?x?Q?=C3", b"?=", b"\r\n", b"\r\n\r\n", b"Content-Type: message/rfc822\r\n",
             b"Content-Type: text/plain; charset=koi8-r\r\n", b"Content-Disposition: attachment; filename*=",
             b"utf-8''%E2%82", b"Content-Type: application/ms-tnef\r\n", b"x\x9f>\"", b"\xff\xfe", b"<", b">",
             b"@", b"Date: ", b"Message-ID: ", b"In-Reply-To: ", b"\t", b" "]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(MIME_BITS), st.binary(max_size=20)), max_size=60))
def test_mail_shaped_garbage_only_ever_raises_malformed_message(pieces: list[bytes]) -> None:
    try:
        msg = parse_message(b"From: a@example.com\r\n" + b"".join(pieces))
    except MalformedMessage:
        return
    assert isinstance(msg, ParsedMessage)
    classify(msg)
    reply_text(msg)


# ------------------------------------------------------------------------------------------------ classify
def test_own_domains_may_be_one_or_several_and_match_exactly() -> None:
    msg = parse_message(mail(Message_ID="<n1@desk.example.org>"))
    assert classify(msg) is Kind.TICKETABLE
    assert classify(msg, "desk.example.org") is Kind.LOOP
    assert classify(msg, ["other.example", "DESK.example.org"]) is Kind.LOOP
    assert classify(msg, "example.org") is Kind.TICKETABLE


def test_a_loop_wins_over_an_auto_reply_and_a_bounce_over_auto_submitted() -> None:
    assert classify(parse_message(mail(X_Outcomedesk_Loop="desk", Auto_Submitted="auto-replied"))) is Kind.LOOP
    bounce = mail(From="MAILER-DAEMON@mx.example.com", Auto_Submitted="auto-replied")
    assert classify(parse_message(bounce)) is Kind.BOUNCE


# ---------------------------------------------------------------------------------------- ticket numbers
@pytest.mark.parametrize(("subject", "number"), [
    ("Re: [INC0000123] Printer", "INC0000123"),
    ("AW: SV: Fwd: [REQ0000042] Laptop", "REQ0000042"),
    ("INC0000123", "INC0000123"),
    ("Re: REQ0000042 and [INC0000007]", "INC0000007"),
    ("Re: [INC000012] six digits", None),
    ("Printer", None),
    ("", None),
])
def test_it_finds_our_ticket_number_in_a_subject(subject: str, number: str | None) -> None:
    assert ticket_number_in(subject) == number


# ------------------------------------------------------------------------------------------------ trimming
def test_trimming_never_leaves_nothing_when_there_was_text() -> None:
    assert trim_reply("> all quoted\n> here\n") == "> all quoted\n> here"
    assert trim_reply("Sent from my iPhone\n") == "Sent from my iPhone"
    assert trim_reply("") == ""
    assert trim_reply("New text.\r\n\r\nOn Mon, 3 Jun 2024, Desk wrote:\r\n> old\r\n") == "New text."
