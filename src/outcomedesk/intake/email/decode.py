"""Bytes and header text of any charset turned into str, never raising: the one place mail text is decoded.

Real mail lies about its charset (Windows-1252 labelled ISO-8859-1 or US-ASCII, UTF-8 labelled Latin-1, labels
Python does not know such as "x-unknown" or "unknown-8bit"), splits multi-byte characters between encoded words,
and carries raw 8-bit bytes in headers. Each reader here tries the declared charset (or its usual superset) strictly,
then UTF-8, then a single-byte fallback, and says whether it had to guess.
"""

from __future__ import annotations

import binascii
import codecs
import re

# Labels that senders use for a smaller charset than the one they actually write (WHATWG's Encoding Standard maps
# them the same way); decoding with the superset loses nothing.
SUPERSETS = {
    "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252",
    "latin-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "shift_jis": "cp932",
    "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949",
    "iso-2022-jp": "iso2022_jp_ext", "big5": "big5hkscs", "tis-620": "cp874", "iso-8859-9": "cp1254",
    "utf8": "utf-8", "unicode-1-1-utf-7": "utf-7",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*?)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label (its usual superset where there is one), or None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").split("*", 1)[0].lower()  # RFC 2231 allows "utf-8*en"
    name = SUPERSETS.get(name, name)
    for candidate in (name, name.removeprefix("x-"), name.replace("_", "-")):
        try:
            return codecs.lookup(candidate).name
        except (LookupError, ValueError):
            continue
    return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """`data` as text, and whether it decoded cleanly with the declared charset (False: a guess was needed)."""
    codec = codec_for(charset)
    if codec == "cp1252" and not data.isascii() and _valid_utf8(data):
        # UTF-8 labelled US-ASCII or Latin-1 (old gateways, scripts): valid UTF-8 is almost never Latin-1 text.
        return data.decode("utf-8"), False
    if codec is not None:
        try:
            return data.decode(codec), True
        except (UnicodeDecodeError, LookupError):
            pass
    if codec != "utf-8":
        try:
            return data.decode("utf-8"), charset is None and data.isascii()
        except UnicodeDecodeError:
            pass
    if codec is not None and codec not in {"utf-8", "utf-7"}:
        try:
            return data.decode(codec, errors="replace"), False
        except LookupError:  # a codec that refuses "replace" (none of the standard ones)
            pass
    if codec == "utf-8":
        return data.decode("utf-8", errors="replace"), False
    return data.decode("cp1252", errors="replace"), False


def unescape_8bit(text: str) -> str:
    """Header text from the parser keeps raw 8-bit bytes as surrogates; read them as UTF-8, else Windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        raw = text.encode("ascii", errors="surrogateescape")
    except UnicodeEncodeError:  # real non-ASCII text next to escaped bytes: not from the parser, but be safe
        return without_surrogates(text)
    return decode_bytes(raw, "utf-8")[0] if _valid_utf8(raw) else decode_bytes(raw, "cp1252")[0]


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _word_bytes(encoding: str, payload: str) -> bytes:
    data = payload.encode("ascii", errors="replace")
    if encoding in "bB":
        data = _NOT_BASE64.sub(b"", data)
        if len(data) % 4 == 1:  # one stray character cannot be padded into a byte
            data = data[:-1]
        try:
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
        except binascii.Error:
            return b""
    return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))


def decode_header_value(value: str) -> tuple[str, bool]:
    """A raw header value unfolded and its RFC 2047 encoded words decoded, and whether all of it was clean.

    Adjacent encoded words of one charset are joined as bytes before decoding, because senders split multi-byte
    characters between them; whitespace between encoded words is dropped as RFC 2047 says."""
    text = _FOLD.sub("", value)
    out: list[str] = []
    clean = True
    pending: tuple[str, bytearray] | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if between and not (pending is not None and between.isspace()):
            if pending is not None:
                decoded, ok = decode_bytes(bytes(pending[1]), pending[0])
                out.append(decoded)
                clean = clean and ok
                pending = None
            out.append(unescape_8bit(between))
        charset, encoding, payload = match.groups()
        data = _word_bytes(encoding, payload)
        if pending is not None and pending[0].lower() == charset.lower():
            pending[1].extend(data)
        else:
            if pending is not None:
                decoded, ok = decode_bytes(bytes(pending[1]), pending[0])
                out.append(decoded)
                clean = clean and ok
            pending = (charset, bytearray(data))
        position = match.end()
    if pending is not None:
        decoded, ok = decode_bytes(bytes(pending[1]), pending[0])
        out.append(decoded)
        clean = clean and ok
    out.append(unescape_8bit(text[position:]))
    return clean_text("".join(out)), clean


def clean_text(text: str) -> str:
    """One line of header text: tabs and line breaks as spaces, other control characters and NULs gone."""
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return without_surrogates(_CONTROL.sub("", text)).strip()


def without_surrogates(text: str) -> str:
    """`text` safe to store: a lone surrogate (from bytes no decoder could place) becomes "?"."""
    return text.encode("utf-8", errors="replace").decode("utf-8")
