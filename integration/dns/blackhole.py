#!/usr/bin/env python3
"""A DNS server that swallows every query: blocked egress, broken cluster DNS.

    blackhole.py ADDR LIFETIME_S READY_FILE [txt-nxdomain]

Binds UDP and TCP port 53 on ADDR (a loopback address; port 53 needs root),
reads every datagram and every TCP byte and never answers. With
txt-nxdomain, a UDP query for a TXT record is answered at once with
NXDOMAIN (RFC 1035 section 4.1.1, RCODE 3) and only the others (A, AAAA:
libcurl's name lookups) are swallowed, so the HTTPS half of a handle check
meets the black hole alone. Writes
"ADDR\\n" to READY_FILE once both sockets listen, so a test can wait for it
instead of sleeping. Exits after LIFETIME_S seconds at most, so a lost test
never leaves it running; the test kills it earlier (teardown) by pid.
Counts what it swallowed in READY_FILE.count (one line per query seen), so a
test can tell that the resolver did ask.
"""
import os
import selectors
import socket
import sys
import time


def question_end(q):
    """Offset just past the first question's QNAME, or None."""
    o = 12
    while o < len(q) and q[o] != 0:
        if q[o] & 0xC0:
            return None  # no compression in a query's question
        o += q[o] + 1
    return o + 1 if o < len(q) else None


def question_type(q):
    e = question_end(q)
    if len(q) < 12 or e is None or e + 4 > len(q):
        return None
    return (q[e] << 8) | q[e + 1]


def nxdomain(q):
    """The query's header and question, as an NXDOMAIN answer."""
    e = question_end(q) + 4
    head = bytearray(q[:12])
    head[2] = 0x80 | (q[2] & 0x01)  # QR, RD copied
    head[3] = 0x80 | 3  # RA, RCODE NXDOMAIN
    head[4:12] = b"\x00\x01\x00\x00\x00\x00\x00\x00"  # one question, nothing else
    return bytes(head) + q[12:e]


def main():
    if len(sys.argv) not in (4, 5) or (len(sys.argv) == 5 and sys.argv[4] != "txt-nxdomain"):
        sys.stderr.write("usage: blackhole.py ADDR LIFETIME_S READY_FILE [txt-nxdomain]\n")
        return 2
    addr, lifetime, ready = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    txt_nx = len(sys.argv) == 5
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((addr, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, 53))
    tcp.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    held = []  # TCP connections kept open, unanswered
    count = open(ready + ".count", "a", buffering=1)
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(addr + "\n")
    os.replace(tmp, ready)
    end = time.monotonic() + lifetime
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 0
        for key, _ in sel.select(timeout=min(left, 1.0)):
            if key.data == "udp":
                data, peer = udp.recvfrom(65535)
                qtype = question_type(data)
                count.write("udp %d qtype %s\n" % (len(data), qtype))
                if txt_nx and qtype == 16:
                    udp.sendto(nxdomain(data), peer)
            elif key.data == "listen":
                conn, _ = tcp.accept()
                if len(held) < 256:
                    held.append(conn)
                    sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    conn.close()
            else:
                try:
                    data = key.fileobj.recv(65535)
                except OSError:
                    data = b""
                if data:
                    count.write("tcp %d\n" % len(data))
                else:
                    sel.unregister(key.fileobj)
                    held.remove(key.fileobj)
                    key.fileobj.close()


if __name__ == "__main__":
    sys.exit(main())
