"""tls_pymemcache.py - pymemcache over TLS, driven by build/mcfast-bench-tls.

The peer of the TLS bench (bench/tls/c_pymemcache.c starts it): pymemcache
(Debian python3-pymemcache, 3.5) with an ssl.SSLContext verified against
the bench's CA, on the same memcached -Z as mcfast.  It reads commands on
stdin and answers one line each on stdout:

  (at start)                       -> ready pymemcache VERSION python VERSION
                                      | skip REASON (then it exits)
  init HOST PORT CAFILE NKEYS VLEN BATCH BIGLEN NBIG
                                   -> ok | error WHY   (builds the data, connects)
  round WORKLOAD SECONDS CURSOR MARKER
                                   -> ok CALLS SECONDS USER SYS | error WHY
  quit

A round makes calls from call number CURSOR on until SECONDS have passed
and reports the calls, their wall time and this process's CPU time.
Workloads (the same keys and values as bench/tls/data.c):
  tls_get           get(key), the value compared
  tls_get_multi100  get_many(BATCH keys), the whole result compared
  tls_set_multi100  set_many(BATCH items, noreply=False): no key may fail
  tls_set_500k      set(key, BIGLEN bytes, noreply=False) must be True
Values written in a round carry MARKER at byte KLEN, as mcfast's do, so the
bench reads back what the round wrote.
"""
import resource
import ssl
import sys
import time

KLEN = 11


def reply(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


try:
    import pymemcache
    from pymemcache.client.base import Client
except ImportError as e:  # python3-pymemcache not installed
    reply("skip cannot import pymemcache (%s): apt-get install python3-pymemcache" % e)
    sys.exit(0)


def make_keys(prefix, n):
    return [b"%s%08d" % (prefix, i % 100000000) for i in range(n)]


# bench/tls/data.c's make_value: the key, then byte j = 'a' + (i + j) % 26.
ALPHABET = bytes(range(ord("a"), ord("a") + 26))


def make_value(key, i, n):
    start = (i + KLEN) % 26
    reps = (n - KLEN + start) // 26 + 1
    return key + (ALPHABET * reps)[start:start + n - KLEN]


def stamped(value, marker):
    return value[:KLEN] + marker + value[KLEN + 1:]


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


class Peer:
    def init(self, host, port, cafile, nkeys, vlen, batch, biglen, nbig):
        self.nkeys, self.batch, self.nbig = int(nkeys), int(batch), int(nbig)
        vlen, biglen = int(vlen), int(biglen)
        self.nbatches = self.nkeys // self.batch
        kget = make_keys(b"tk:", self.nkeys)
        self.vget = [make_value(k, i, vlen) for i, k in enumerate(kget)]
        self.kget = kget
        self.kset = make_keys(b"ts:", self.nkeys)
        self.vset = [make_value(k, i, vlen) for i, k in enumerate(self.kset)]
        self.kbig = make_keys(b"tb:", self.nbig)
        self.vbig = [make_value(k, i, biglen) for i, k in enumerate(self.kbig)]
        # What each get_many call asks and must get back, made once.
        self.get_batches = []
        for b in range(self.nbatches):
            keys = kget[b * self.batch:(b + 1) * self.batch]
            want = dict(zip(keys, self.vget[b * self.batch:(b + 1) * self.batch]))
            self.get_batches.append((keys, want))
        # Verified against the bench's CA; the host is an IP literal, checked
        # against the certificate's IP SAN (Python sends no SNI for it).
        ctx = ssl.create_default_context(cafile=cafile)
        self.client = Client((host, int(port)), tls_context=ctx, no_delay=True,
                             default_noreply=False, connect_timeout=10, timeout=10)
        if self.client.get(kget[0]) != self.vget[0]:
            raise RuntimeError("first get: no hit or a wrong value")

    def round(self, workload, seconds, cursor, marker):
        seconds, n = float(seconds), int(cursor)
        m = marker.encode()
        c = self.client
        if workload == "tls_get":
            keys, vals, nk = self.kget, self.vget, self.nkeys

            def one(n):
                i = n % nk
                if c.get(keys[i]) != vals[i]:
                    raise RuntimeError("get %s: no hit or a wrong value" % keys[i].decode())
        elif workload == "tls_get_multi100":
            batches, nb = self.get_batches, self.nbatches

            def one(n):
                keys, want = batches[n % nb]
                if c.get_many(keys) != want:
                    raise RuntimeError("get_many from %s: a miss or a wrong value"
                                       % keys[0].decode())
        elif workload == "tls_set_multi100":
            bs, nb = self.batch, self.nbatches
            items = [dict((self.kset[j], stamped(self.vset[j], m))
                          for j in range(b * bs, (b + 1) * bs)) for b in range(nb)]

            def one(n):
                failed = c.set_many(items[n % nb], noreply=False)
                if failed:
                    raise RuntimeError("set_many: %d keys not stored" % len(failed))
        elif workload == "tls_set_500k":
            big = [stamped(v, m) for v in self.vbig]
            keys, nbig = self.kbig, self.nbig

            def one(n):
                if c.set(keys[n % nbig], big[n % nbig], noreply=False) is not True:
                    raise RuntimeError("set 500k: not stored")
        else:
            raise RuntimeError("unknown workload " + workload)
        u0, s0 = cpu()
        t0 = time.perf_counter()
        calls = 0
        while True:
            one(n + calls)
            calls += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        u1, s1 = cpu()
        return "ok %d %.6f %.6f %.6f" % (calls, t, u1 - u0, s1 - s0)


def main():
    reply("ready pymemcache %s python %s" % (pymemcache.__version__, sys.version.split()[0]))
    peer = Peer()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                break
            elif words[0] == "init" and len(words) == 9:
                peer.init(*words[1:])
                reply("ok")
            elif words[0] == "round" and len(words) == 5:
                reply(peer.round(*words[1:]))
            else:
                reply("error bad command: " + line.strip())
        except Exception as e:  # every failure goes back to the bench, in words
            reply("error %s: %s" % (type(e).__name__, str(e).replace("\n", " ")))


if __name__ == "__main__":
    main()
