#!/usr/bin/env python3
"""An independent model of dm-crypt's sector encryption, to check the
userspace backend against: the IV generators and the XTS tweak chain are
computed here from their definitions (dm-crypt's documentation), AES itself
by the openssl command (ECB and CBC, no padding), never by hsmvault.

  sector-oracle.py IMAGE DATA_OFFSET SECTOR_SIZE MODE KEYFILE PLAINFILE SECTOR...

MODE is aes-xts-plain64, aes-xts-plain or aes-cbc-essiv:sha256 (or
aes-cbc-plain64/-plain). For each SECTOR (index in SECTOR_SIZE units from
the segment start) it encrypts that sector of PLAINFILE (the decrypted
segment) and compares it with the ciphertext at that place in IMAGE. The
IV counts 512-byte units: sector n of a 4096-byte-sector volume has IV 8n.
Exit 0 when all match, 1 with the first difference named."""
import hashlib
import subprocess
import sys


def openssl(cipher, key, data, iv=None):
    cmd = ["openssl", "enc", "-e", "-" + cipher, "-K", key.hex(), "-nopad", "-nosalt"]
    if iv is not None:
        cmd += ["-iv", iv.hex()]
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    assert len(out) == len(data), "openssl returned %d of %d bytes" % (len(out), len(data))
    return out


def aes(bits):
    return "aes-%d" % bits


def iv_block(gen, n):
    if gen == "plain64":
        return n.to_bytes(8, "little") + bytes(8)
    if gen == "plain":
        return (n & 0xFFFFFFFF).to_bytes(4, "little") + bytes(12)
    raise ValueError(gen)


def xts_encrypt(key, iv, data):
    half = len(key) // 2
    k1, k2 = key[:half], key[half:]
    t = int.from_bytes(openssl(aes(half * 8) + "-ecb", k2, iv), "little")
    tweaks = []
    for _ in range(len(data) // 16):
        tweaks.append(t.to_bytes(16, "little"))
        # multiply by x in GF(2^128), little-endian (IEEE P1619)
        t <<= 1
        if t >> 128:
            t = (t & ((1 << 128) - 1)) ^ 0x87
    pre = bytes(a ^ b for a, b in zip(data, b"".join(tweaks)))
    mid = openssl(aes(half * 8) + "-ecb", k1, pre)
    return bytes(a ^ b for a, b in zip(mid, b"".join(tweaks)))


def cbc_encrypt(key, gen, n, data):
    if gen.startswith("essiv:"):
        salt = hashlib.new(gen[6:], key).digest()
        iv = openssl(aes(len(salt) * 8) + "-ecb", salt, iv_block("plain64", n))
    else:
        iv = iv_block(gen, n)
    return openssl(aes(len(key) * 8) + "-cbc", key, data, iv)


def main():
    img, off, ss, mode, keyfile, plainfile = sys.argv[1:7]
    off, ss = int(off), int(ss)
    key = open(keyfile, "rb").read()
    cipher, chain, gen = mode.split("-", 2)
    assert cipher == "aes", mode
    with open(img, "rb") as fi, open(plainfile, "rb") as fp:
        for s in map(int, sys.argv[7:]):
            fp.seek(s * ss)
            plain = fp.read(ss)
            fi.seek(off + s * ss)
            want = fi.read(ss)
            n = s * (ss // 512)
            if chain == "xts":
                got = xts_encrypt(key, iv_block(gen, n), plain)
            else:
                got = cbc_encrypt(key, gen, n, plain)
            if got != want:
                print("sector %d (%s, %d-byte sectors, %d-bit key): the model's ciphertext "
                      "differs from the image's" % (s, mode, ss, len(key) * 8))
                sys.exit(1)
    print("%s, %d-byte sectors, %d-bit key: %d sectors match the model"
          % (mode, ss, len(key) * 8, len(sys.argv) - 7))


main()
