#!/usr/bin/env python3
"""capture_corpus.py - regenerates fuzz/corpus/reply/ from a REAL memcached.

Starts memcached on a free loopback port, sends real requests and stores the
exact reply bytes, each prefixed with the 4 chunking bytes fuzz_reply.c
reads first (see fuzz/fuzz_reply.c).  Run from the repository root:
    python3 fuzz/capture_corpus.py [path/to/memcached]
"""
import os, socket, subprocess, sys, time

MEMCACHED = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/memcached"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "reply")

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def talk(port, req, until, wait=0.3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    buf = b""
    deadline = time.time() + 2
    s.settimeout(wait)
    while time.time() < deadline:
        if until is not None and buf.endswith(until):
            break
        try:
            d = s.recv(65536)
        except socket.timeout:
            if until is None:
                break
            continue
        if not d:
            break
        buf += d
    s.close()
    return buf

def main():
    port = free_port()
    args = [MEMCACHED]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    p = subprocess.Popen(args + ["-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.02)
        # (name, chunking header, request, reply terminator)
        cases = [
            ("set_stored", b"\0\0\0\0", b"set a 5 0 3\r\nabc\r\n", b"STORED\r\n"),
            ("set_more", b"\0\0\0\0",
             b"set b 0 0 0\r\n\r\nset c 4294967295 0 10\r\n0123456789\r\nset n 0 0 2\r\n10\r\n"
             b"set bin 0 0 6\r\n\r\n\x00\xff\r\n\r\n", b"STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\n"),
            ("get_hit", b"\x07\x03\x01\x00", b"get a\r\n", b"END\r\n"),
            ("get_multi", b"\x05\x01\x00\x00", b"get a b c zz bin\r\n", b"END\r\n"),
            ("gets_multi", b"\x02\x09\x11\x00", b"gets a b c bin\r\n", b"END\r\n"),
            ("gat", b"\x01\x01\x01\x01", b"gats 100 a c\r\n", b"END\r\n"),
            ("get_miss", b"\x01\x00\x00\x00", b"get nope\r\n", b"END\r\n"),
            ("add_not_stored", b"\0\0\0\0", b"add a 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            ("cas_exists_notfound", b"\x03\x00\x00\x00",
             b"cas a 0 0 1 1\r\nx\r\ncas nope 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n"),
            ("incr_decr", b"\x01\x02\x00\x00",
             b"incr n 5\r\ndecr n 14\r\nincr nope 1\r\nincr a 1\r\nincr n 18446744073709551615\r\n", None),
            ("delete_touch", b"\x04\x00\x00\x00",
             b"touch a 100\r\ntouch nope 1\r\ndelete b\r\ndelete b\r\n", b"NOT_FOUND\r\n"),
            ("version", b"\0\0\0\0", b"version\r\n", b"\r\n"),
            ("stats", b"\x40\x00\x00\x00", b"stats\r\n", b"END\r\n"),
            ("stats_settings", b"\x10\x20\x00\x00", b"stats settings\r\n", b"END\r\n"),
            ("flush_ok", b"\0\0\0\0", b"flush_all 0\r\nverbosity 1\r\n", b"OK\r\nOK\r\n"),
            ("error", b"\0\0\0\0", b"bogus\r\n", b"ERROR\r\n"),
            ("client_error", b"\x05\x00\x00\x00", b"set k 0 0 3\r\nabcdef\r\n", None),
            ("client_error_key", b"\0\0\0\0", b"get " + b"k" * 251 + b"\r\n", None),
            ("server_error_too_large", b"\0\0\0\0",
             b"set big 0 0 2000000\r\n" + b"x" * 2000000 + b"\r\n", None),
        ]
        os.makedirs(OUT, exist_ok=True)
        for name, hdr, req, until in cases:
            rep = talk(port, req, until)
            if not rep:
                print("no reply for", name, file=sys.stderr)
                continue
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(hdr + rep)
            print("%-26s %6d bytes" % (name, len(rep)))
    finally:
        p.terminate()
        p.wait()

main()
