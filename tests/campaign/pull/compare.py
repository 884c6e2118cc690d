#!/usr/bin/env python3
"""compare.py FLOW PROFILE BASE_DIR RUN_DIR VAULT: the card and vault a rerun left
(RUN_DIR) against those of the uninterrupted run (BASE_DIR). Each folder
holds card.state (the simulator's state file), status.json (hsmvault card
status --json of that card) and show.json (hsmvault show --json of the
vault). Prints every difference and exits 1 when there is one.

What is compared, and what is left aside on purpose:
  card  - every record of the state file (family, serial, options, PIN
          values, DKEK, every EF, every key with its reference and DER
          encoding), except: the PIN and SO-PIN try counters, which may be
          one lower than after the uninterrupted run (never more); under
          enroll the DKEK value (each enroll draws new shares) and under
          pico-hsm the device key and its self-signed EF 2F02 (drawn at
          the card's first INITIALIZE: EF 2F02 and its copy in EF CE00).
  keys  - the key inventory hsmvault reads (reference, id, label,
          algorithm, size): equal, no id twice; the card's KCV equal to
          the uninterrupted run's (enroll: equal to the KCV the vault
          records, as the DKEK is new).
  vault - the newest manifest's whole content except its own hash, its
          predecessor's hash, the version number (an interrupted run may
          have recorded one more), every time stamp (time, last_verified) and each wrap file's hash
          (the card's key blob starts with random bytes: each export
          differs; instead every file the manifest names must be in VAULT
          with the hash it records); under enroll the KCV and
          the share file's hash and check value are replaced by
          placeholders (new random DKEK share), under pico-hsm the
          recorded device certificates (self-signed at INITIALIZE) and
          the card ids (derived from that device key)."""
import hashlib
import json
import sys

flow, profile, base_dir, run_dir, vault = sys.argv[1:6]
diffs = []


def state(path):
    recs = {}
    for line in open(path):
        parts = line.split()
        if not parts or parts[0] == "end":
            continue
        name = parts[0]
        if name in ("ef", "key"):
            recs[(name, parts[1])] = parts[2:]
        else:
            recs[(name,)] = parts[1:]
    return recs


def compare_states(b, r):
    skip = set()
    if profile == "pico-hsm":
        skip |= {("devkey",), ("ef", "2F02"), ("ef", "CE00")}
    if flow == "enroll":
        if b.get(("dkek",), [""])[:2] != r.get(("dkek",), [""])[:2]:
            diffs.append("card: DKEK share counts %s, uninterrupted run %s"
                         % (r.get(("dkek",)), b.get(("dkek",))))
        skip.add(("dkek",))
    for pin, left_at in ((("userpin",), 2), (("sopin",), 1)):
        bv, rv = b.get(pin), r.get(pin)
        skip.add(pin)
        if bv is None or rv is None or len(bv) <= left_at or len(rv) <= left_at:
            if bv != rv:
                diffs.append("card: %s %s, uninterrupted run %s" % (pin[0], rv, bv))
            continue
        if bv[:left_at] != rv[:left_at]:
            diffs.append("card: %s value differs: %s vs %s" % (pin[0], rv[:left_at], bv[:left_at]))
        if int(rv[left_at]) < int(bv[left_at]) - 1:
            diffs.append("card: %s tries left %s, uninterrupted run %s (more than one try lost)"
                         % (pin[0], rv[left_at], bv[left_at]))
    for k in sorted(set(b) | set(r)):
        if k in skip:
            continue
        if b.get(k) != r.get(k):
            def short(v):
                s = " ".join(v) if v is not None else "(absent)"
                return s if len(s) < 70 else s[:67] + "..."
            diffs.append("card: %s is %s, uninterrupted run %s" % (" ".join(k), short(r.get(k)), short(b.get(k))))


def card_of(status):
    cards = [x["card"] for x in status["readers"] if x.get("card")]
    if len(cards) != 1:
        diffs.append("card status lists %d cards, expected 1" % len(cards))
        return None
    return cards[0]


def inventory(card):
    return [(k["ref"], k["id"], k["label"], k["algorithm"], k["bits"], k["curve"],
             k["device_key"], k["exportable"]) for k in card["keys"]]


def newest(show):
    return show["manifest"]


def normalize(m, kcv):
    m = json.loads(json.dumps(m))
    for f in ("sha256", "previous", "version"):
        m.pop(f, None)
    for k in m.get("keys", []):
        k.pop("sha256", None)

    def drop_times(x):
        if isinstance(x, dict):
            for f in ("time", "last_verified"):
                x.pop(f, None)
            for v in x.values():
                drop_times(v)
        elif isinstance(x, list):
            for v in x:
                drop_times(v)
    drop_times(m)
    for c in m.get("cards", []):
        if profile == "pico-hsm":
            c.pop("devcert", None)
    if flow == "enroll":
        for s in m.get("dkek", {}).get("shares", []):
            s.pop("sha256", None)
    text = json.dumps(m, sort_keys=True)
    if kcv:
        text = text.replace(kcv, "<KCV>")
    if profile == "pico-hsm":
        for c in m.get("cards", []):
            text = text.replace(c["id"], "<CARD-ID>")
    return json.loads(text)


bs, rs = state(base_dir + "/card.state"), state(run_dir + "/card.state")
compare_states(bs, rs)

bc = card_of(json.load(open(base_dir + "/status.json")))
rc = card_of(json.load(open(run_dir + "/status.json")))
bm = newest(json.load(open(base_dir + "/show.json")))
rm = newest(json.load(open(run_dir + "/show.json")))
if bc and rc:
    if rc.get("error"):
        diffs.append("card status: %s" % rc["error"])
    bi, ri = inventory(bc), inventory(rc)
    if bi != ri:
        diffs.append("key inventory %s, uninterrupted run %s" % (ri, bi))
    ids = [k["id"] for k in rc["keys"] if k["id"]]
    if len(ids) != len(set(ids)):
        diffs.append("a key id is on the card twice: %s" % ids)
    # The KCV the card shows (pico-hsm shows none without the PIN) and the
    # one of the DKEK it holds (state file: KCV = SHA-256 of the DKEK, first
    # 8 bytes) must both be the one the vault records, which is the
    # uninterrupted run's (enroll: a new DKEK, so only the vault's).
    want = rm.get("dkek", {}).get("kcv")
    if flow != "enroll" and want != bm.get("dkek", {}).get("kcv"):
        diffs.append("vault KCV %s, uninterrupted run %s" % (want, bm.get("dkek", {}).get("kcv")))
    shown = (rc.get("dkek") or {}).get("kcv")
    if profile == "pico-hsm" and shown in (None, "unknown"):
        shown = want
    if shown != want:
        diffs.append("card shows KCV %s, the vault records %s" % (shown, want))
    dk = rs.get(("dkek",), [])
    held = (hashlib.sha256(bytes.fromhex(dk[2])).hexdigest()[:16].upper()
            if len(dk) == 3 else None)
    if held != want:
        diffs.append("card holds a DKEK of KCV %s, the vault records %s" % (held, want))
bn = normalize(bm, bm.get("dkek", {}).get("kcv") if flow == "enroll" else None)
rn = normalize(rm, rm.get("dkek", {}).get("kcv") if flow == "enroll" else None)


def differences(path, b, r):
    if isinstance(b, dict) and isinstance(r, dict):
        for k in sorted(set(b) | set(r)):
            differences(path + "." + k, b.get(k), r.get(k))
    elif isinstance(b, list) and isinstance(r, list) and len(b) == len(r):
        for i, (x, y) in enumerate(zip(b, r)):
            differences("%s[%d]" % (path, i), x, y)
    elif b != r:
        diffs.append("newest manifest: %s is %s, uninterrupted run %s"
                     % (path, json.dumps(r)[:200], json.dumps(b)[:200]))


differences("manifest", bn, rn)
for item in rm.get("keys", []) + rm.get("dkek", {}).get("shares", []):
    try:
        data = open(vault + "/" + item["file"], "rb").read()
    except OSError as e:
        diffs.append("vault: %s named by the manifest: %s" % (item["file"], e.strerror))
        continue
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        diffs.append("vault: %s does not have the hash the manifest records" % item["file"])
for d in diffs:
    print("  " + d)
sys.exit(1 if diffs else 0)
