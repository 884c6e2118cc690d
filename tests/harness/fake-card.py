#!/usr/bin/env python3
"""A stand-in card for the harness self-test: speaks vpcd's framing (2-byte
length, then a control byte or an APDU) like hsmvault-sim, with just enough
behaviour to check the harness: an ATR, 90 00 to SELECT, 6D 00 otherwise.
Accepts the simulator's --port/--state/--drop-after options."""
import argparse
import socket
import struct
import sys

ATR = bytes.fromhex("3BFE1800008131FE458031815448534D31738021408107FA")


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--drop-after", type=int, default=0)
    args, _ = ap.parse_known_args()
    with open(args.state, "a"):
        pass
    s = socket.create_connection(("127.0.0.1", args.port))
    apdus = 0
    while True:
        hdr = read_exact(s, 2)
        if hdr is None:
            return 0
        (n,) = struct.unpack(">H", hdr)
        msg = read_exact(s, n)
        if msg is None:
            return 0
        if n == 1:
            if msg[0] == 4:  # get ATR
                s.sendall(struct.pack(">H", len(ATR)) + ATR)
            continue  # power off / on / reset: no answer
        apdus += 1
        if args.drop_after and apdus >= args.drop_after:
            s.close()  # the card leaves in the middle of a command
            return 0
        resp = b"\x90\x00" if msg[1] == 0xA4 else b"\x6D\x00"
        s.sendall(struct.pack(">H", len(resp)) + resp)


if __name__ == "__main__":
    sys.exit(main())
