"""Files people hand to the CLI (imports, evaluation sets) must be UTF-8: say so, naming the file and the
problem, before anything reads them, rather than fail half-way with a traceback or read garbled text."""

from __future__ import annotations

import codecs
from pathlib import Path

CHUNK = 1 << 20
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16"))


class NotUtf8(ValueError):
    """The file is not UTF-8 text; the message names the file, the encoding found and where."""


def require_utf8(path: Path) -> None:
    """Raise NotUtf8 unless `path` is UTF-8 (a UTF-8 byte-order mark allowed). Reads the file once, in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as handle:
        head = handle.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                raise NotUtf8(f"{path}: the file is {name} (it starts with a {name} byte-order mark); "
                              "save it as UTF-8 and try again")
        if head[:1] and b"\x00" in head:
            raise NotUtf8(f"{path}: the file holds NUL bytes (UTF-16 or UTF-32 without a byte-order mark?); "
                          "save it as UTF-8 and try again")
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError as exc:
                data = bytes(exc.object)  # the bytes held over from the last chunk, then this one
                carried = len(data) - len(chunk)
                at = offset - carried + exc.start
                line += data[carried : max(exc.start, carried)].count(b"\n")
                raise NotUtf8(f"{path}: not UTF-8: byte 0x{data[exc.start]:02x} at offset {at} (line {line}) "
                              "cannot be read; the file may be Latin-1 or Windows-1252: save it as UTF-8 and "
                              "try again") from None
            offset += len(chunk)
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise NotUtf8(f"{path}: not UTF-8: the file ends in the middle of a character; save it as UTF-8 "
                          "and try again") from None
