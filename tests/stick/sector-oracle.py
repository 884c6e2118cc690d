#!/usr/bin/env python3
"""An independent model of dm-crypt's sector encryption, to check the
userspace backend against: the IV generators and the XTS tweak chain are
computed here from their definitions (dm-crypt's documentation), AES itself
by the openssl command (ECB and CBC, no padding), never by hsmvault.

  sector-oracle.py IMAGE DATA_OFFSET SECTOR_SIZE MODE KEYFILE PLAINFILE SECTOR...

MODE is aes-xts-plain64, aes-xts-plain or aes-cbc-essiv:sha256 (or
aes-cbc-plain64/-plain). For each SECTOR (index in SECTOR_SIZE units from
the segment start) it decrypts the ciphertext at that place in IMAGE and
compares it with that sector of PLAINFILE (the decrypted segment). Both
modes decrypt block by block, so AES runs in three openssl calls at most. The
IV counts 512-byte units: sector n of a 4096-byte-sector volume has IV 8n.
Exit 0 when all match, 1 with the first difference named."""
import hashlib
import subprocess
import sys


def openssl_ecb(key, data, decrypt=False):
    """AES-ECB (key size from the key) over whole blocks, by the openssl command."""
    cmd = ["openssl", "enc", "-d" if decrypt else "-e", "-aes-%d-ecb" % (len(key) * 8),
           "-K", key.hex(), "-nopad", "-nosalt"]
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    assert len(out) == len(data), "openssl returned %d of %d bytes" % (len(out), len(data))
    return out


def xor(a, b):
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")


def iv_blocks(gen, key, numbers):
    """The IV of each sector number (512-byte units), as dm-crypt defines them."""
    if gen == "plain64":
        return [n.to_bytes(8, "little") + bytes(8) for n in numbers]
    if gen == "plain":
        return [(n & 0xFFFFFFFF).to_bytes(4, "little") + bytes(12) for n in numbers]
    if gen.startswith("essiv:"):
        # the plain64 block encrypted under the hash of the volume key
        salt = hashlib.new(gen[6:], key).digest()
        enc = openssl_ecb(salt, b"".join(iv_blocks("plain64", key, numbers)))
        return [enc[i:i + 16] for i in range(0, len(enc), 16)]
    raise ValueError(gen)


def xts_decrypt(key, ivs, sectors):
    """P = D_K1(C xor T) xor T, T_0 = E_K2(IV), T_j+1 = T_j * x in GF(2^128)."""
    half = len(key) // 2
    k1, k2 = key[:half], key[half:]
    t0 = openssl_ecb(k2, b"".join(ivs))
    tweaks = []
    for i, c in enumerate(sectors):
        t = int.from_bytes(t0[16 * i:16 * i + 16], "little")
        for _ in range(len(c) // 16):
            tweaks.append(t.to_bytes(16, "little"))
            t <<= 1
            if t >> 128:
                t = (t & ((1 << 128) - 1)) ^ 0x87
    allt = b"".join(tweaks)
    mid = openssl_ecb(k1, xor(b"".join(sectors), allt), decrypt=True)
    return xor(mid, allt)


def cbc_decrypt(key, ivs, sectors):
    """P_j = D_K(C_j) xor C_j-1, with the sector's IV before its first block."""
    dec = openssl_ecb(key, b"".join(sectors), decrypt=True)
    prev = []
    for iv, c in zip(ivs, sectors):
        prev.append(iv + c[:-16])
    return xor(dec, b"".join(prev))


def main():
    img, off, ss, mode, keyfile, plainfile = sys.argv[1:7]
    off, ss = int(off), int(ss)
    key = open(keyfile, "rb").read()
    cipher, chain, gen = mode.split("-", 2)
    assert cipher == "aes" and chain in ("xts", "cbc"), mode
    index = [int(a) for a in sys.argv[7:]]
    cipher_sectors, plain = [], []
    with open(img, "rb") as fi, open(plainfile, "rb") as fp:
        for s in index:
            fi.seek(off + s * ss)
            cipher_sectors.append(fi.read(ss))
            fp.seek(s * ss)
            plain.append(fp.read(ss))
    ivs = iv_blocks(gen, key, [s * (ss // 512) for s in index])
    got = (xts_decrypt if chain == "xts" else cbc_decrypt)(key, ivs, cipher_sectors)
    for i, s in enumerate(index):
        if got[i * ss:(i + 1) * ss] != plain[i]:
            print("sector %d (%s, %d-byte sectors, %d-bit key): the model decrypts the image's "
                  "ciphertext to something else" % (s, mode, ss, len(key) * 8))
            sys.exit(1)
    print("%s, %d-byte sectors, %d-bit key: %d sectors match the model"
          % (mode, ss, len(key) * 8, len(index)))


main()
