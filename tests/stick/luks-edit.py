#!/usr/bin/env python3
"""Edits a LUKS header in an image file, for tests that need a format
cryptsetup cannot make on a machine without device-mapper (a serpent
segment, a segment with integrity): only the header changes, so such an
image can be recognised and refused, never unlocked.

  luks-edit.py IMAGE cipher CIPHER-MODE    the data segment's cipher
  luks-edit.py IMAGE integrity TYPE         adds "integrity" to the segment (LUKS2)

LUKS2: both header copies get the new JSON and a new checksum (sha256 of
the header with the checksum field zeroed). LUKS1: the cipher name and
mode fields of its one header (32 bytes each at 8 and 40)."""
import hashlib
import json
import struct
import sys

CSUM_AT, CSUM_LEN, BIN_LEN = 448, 64, 4096


def edit_luks2(img, what, value):
    with open(img, "r+b") as f:
        first = f.read(BIN_LEN)
        hdr_size = struct.unpack(">Q", first[8:16])[0]
        for off in (0, hdr_size):
            f.seek(off)
            hdr = bytearray(f.read(hdr_size))
            assert hdr[0:6] in (b"LUKS\xba\xbe", b"SKUL\xba\xbe"), "no LUKS2 copy at %d" % off
            assert hdr[72:78] == b"sha256", "checksum algorithm is not sha256"
            meta = json.loads(bytes(hdr[BIN_LEN:]).rstrip(b"\0"))
            seg = meta["segments"]["0"]
            if what == "cipher":
                seg["encryption"] = value
            else:
                seg["integrity"] = {"type": value, "journal_encryption": "none",
                                    "journal_integrity": "none"}
            text = json.dumps(meta, separators=(",", ":")).encode()
            room = hdr_size - BIN_LEN
            assert len(text) < room, "the JSON no longer fits"
            hdr[BIN_LEN:] = text + b"\0" * (room - len(text))
            hdr[CSUM_AT:CSUM_AT + CSUM_LEN] = b"\0" * CSUM_LEN
            digest = hashlib.sha256(hdr).digest()
            hdr[CSUM_AT:CSUM_AT + len(digest)] = digest
            f.seek(off)
            f.write(hdr)


def edit_luks1(img, value):
    cipher, mode = value.split("-", 1)
    with open(img, "r+b") as f:
        f.seek(8)
        f.write(cipher.encode().ljust(32, b"\0"))
        f.write(mode.encode().ljust(32, b"\0"))


def main():
    img, what, value = sys.argv[1:4]
    with open(img, "rb") as f:
        head = f.read(8)
    if head[6:8] == b"\0\1":
        assert what == "cipher", "LUKS1 has no integrity"
        edit_luks1(img, value)
    else:
        edit_luks2(img, what, value)


main()
