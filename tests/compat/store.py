#!/usr/bin/python3
"""store.py - stores every key of a file through a real Python client, for t_dist_compat.sh.

  store.py --client pylibmc|pymemcache [--behaviors JSON] [--ns PREFIX] KEYFILE ADDR[=WEIGHT]...

ADDR is 127.0.0.1:PORT or /path.sock.  Keys are read as bytes, one per line.
pylibmc gets "host:port:weight" specs and the behaviors as given (e.g.
'{"ketama": true}'); pymemcache's HashClient (no weights) gets "host:port"
or the path, and the keys as str (decoded from UTF-8, allow_unicode_keys),
as a Python 3 program holds them.  Exits 0 when every set succeeded, 3 when
the client is not installed.
"""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--client", required=True, choices=["pylibmc", "pymemcache"])
ap.add_argument("--behaviors", default="{}")
ap.add_argument("--ns", default=None)
ap.add_argument("keyfile")
ap.add_argument("addrs", nargs="+")
a = ap.parse_args()

servers = []
for arg in a.addrs:
    addr, _, w = arg.partition("=")
    servers.append((addr, int(w) if w else 1))

with open(a.keyfile, "rb") as f:
    keys = [line.rstrip(b"\r\n") for line in f if line.strip()]

failed = 0
if a.client == "pylibmc":
    try:
        import pylibmc
    except ImportError:
        sys.exit(3)
    specs = []
    for addr, w in servers:
        if addr.startswith("/"):
            if w != 1:
                sys.exit("pylibmc: a unix socket cannot be given a weight")
            specs.append(addr)
        else:
            specs.append("%s:%d" % (addr, w))
    mc = pylibmc.Client(specs, behaviors=json.loads(a.behaviors))
    prefix = a.ns.encode() if a.ns else b""
    for k in keys:
        try:
            mc.set(prefix + k, b"1")
        except pylibmc.Error as e:
            failed += 1
            if failed <= 3:
                print("set %r: %s" % (k, e), file=sys.stderr)
else:
    try:
        from pymemcache.client.hash import HashClient
    except ImportError:
        sys.exit(3)
    if any(w != 1 for _, w in servers):
        sys.exit("pymemcache: HashClient has no weights")
    mc = HashClient([addr for addr, _ in servers], allow_unicode_keys=True,
                    key_prefix=a.ns.encode() if a.ns else b"", default_noreply=False)
    for k in keys:
        if not mc.set(k.decode("utf-8"), b"1"):
            failed += 1
if failed:
    sys.exit("%s: %d of %d sets failed" % (a.client, failed, len(keys)))
