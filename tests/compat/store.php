<?php
// store.php - stores every key of a file through php-memcached (libmemcached), for t_dist_compat.sh.
//   php store.php [--opt NAME=VALUE]... [--servers-first] KEYFILE ADDR[=WEIGHT]...
// NAME is a Memcached::OPT_* constant without the prefix, VALUE a number or
// a Memcached:: constant name (--opt DISTRIBUTION=DISTRIBUTION_CONSISTENT).
// Options are set before addServers() unless --servers-first.  Exits 0 when
// every set succeeded, 3 when the extension is not loaded.
if (!extension_loaded('memcached')) exit(3);
$opts = [];
$servers_first = false;
$args = array_slice($argv, 1);
while ($args && substr($args[0], 0, 2) === '--') {
    $a = array_shift($args);
    if ($a === '--servers-first') { $servers_first = true; continue; }
    if ($a !== '--opt') { fwrite(STDERR, "unknown option $a\n"); exit(2); }
    [$name, $value] = explode('=', array_shift($args), 2);
    $opts[constant("Memcached::OPT_$name")] =
        is_numeric($value) ? (int)$value : constant("Memcached::$value");
}
$keyfile = array_shift($args);
$servers = [];
foreach ($args as $a) {
    $w = 1;
    if (preg_match('/^(.*)=(\d+)$/', $a, $m)) { $a = $m[1]; $w = (int)$m[2]; }
    if ($a[0] === '/') $servers[] = [$a, 0, $w];
    else { [$h, $p] = explode(':', $a, 2); $servers[] = [$h, (int)$p, $w]; }
}
$m = new Memcached();
$set_opts = function () use ($m, $opts) {
    foreach ($opts as $k => $v)
        if (!$m->setOption($k, $v)) { fwrite(STDERR, "setOption($k, $v) failed\n"); exit(2); }
};
if (!$servers_first) $set_opts();
if (!$m->addServers($servers)) { fwrite(STDERR, "addServers failed\n"); exit(2); }
if ($servers_first) $set_opts();
$failed = 0; $n = 0;
foreach (file($keyfile, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $k) {
    $n++;
    if (!$m->set($k, "1") && $failed++ < 3)
        fwrite(STDERR, "set $k: " . $m->getResultMessage() . "\n");
}
if ($failed) { fwrite(STDERR, "php-memcached: $failed of $n sets failed\n"); exit(1); }
exit(0);
