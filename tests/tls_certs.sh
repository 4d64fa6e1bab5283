#!/bin/sh
# tls_certs.sh DIR - test certificates for the TLS tests, made at run time
# with the openssl CLI (no private key is ever committed).  In DIR:
#   ca.pem ca.key              the test CA
#   ca2.pem ca2.key            an unrelated CA (the "wrong CA")
#   server.pem server.key      signed by ca: CN=localhost, SAN DNS:localhost,
#                              IP:127.0.0.1, IP:::1, valid for a day
#   wrongname.pem .key         signed by ca, SAN DNS:wrong.example only
#   expired.pem .key           signed by ca, SAN as server, validity in the past
#   selfsigned.pem .key        self-signed, SAN as server
#   client.pem client.key      signed by ca, extendedKeyUsage clientAuth
#   capath/                    ca.pem under its hash name (openssl rehash)
# EC P-256 keys: fast to make.  Quiet (only errors on stderr).  Idempotent:
# a file already there is kept, so a second run changes nothing.
# OpenSSL 3.0's `x509`/`req` cannot start a validity in the past (no
# -not_before before 3.4, and faketime is not installed): the expired
# certificate goes through `openssl ca -startdate/-enddate`.
set -eu
DIR=${1:?usage: tls_certs.sh DIR}
mkdir -p "$DIR"
cd "$DIR"

SAN="subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
DAYS=1

key() { # NAME: an EC P-256 private key NAME.key
    [ -s "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$1.key" 2>/dev/null
}

ca() { # NAME CN: a self-signed CA certificate NAME.pem
    key "$1"
    [ -s "$1.pem" ] || openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days "$DAYS" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem" 2>/dev/null
}

leaf() { # NAME CN EXTENSIONS...: NAME.pem signed by ca, each extension a line
    name=$1 cn=$2
    shift 2
    [ -s "$name.pem" ] && return 0
    key "$name"
    printf '%s\n' "basicConstraints=CA:FALSE" "$@" >"$name.ext"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days "$DAYS" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

ca ca "mcfast test CA"
ca ca2 "mcfast unrelated CA"
leaf server localhost "$SAN" "extendedKeyUsage=serverAuth"
leaf wrongname wrong.example "subjectAltName=DNS:wrong.example" "extendedKeyUsage=serverAuth"
leaf client "mcfast test client" "extendedKeyUsage=clientAuth"

if [ ! -s selfsigned.pem ]; then
    key selfsigned
    openssl req -x509 -new -key selfsigned.key -subj "/CN=localhost" -days "$DAYS" \
        -addext "$SAN" -out selfsigned.pem 2>/dev/null
fi

# Expired: valid for one day, ending a day before now.  `openssl ca` wants a
# database and a config; they live in a scratch directory removed after.
if [ ! -s expired.pem ]; then
    key expired
    db=$(mktemp -d "${TMPDIR:-/tmp}/mcfast-ca-XXXXXX")
    : >"$db/index.txt"
    cat >"$db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
$SAN
extendedKeyUsage = serverAuth
CNF
    echo 01 >"$db/serial"
    openssl req -new -key expired.key -subj "/CN=localhost" -out "$db/expired.csr" 2>/dev/null
    # YYYYMMDDHHMMSSZ, UTC: from 2 days ago to 1 day ago.
    start=$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)
    end=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
    openssl ca -batch -config "$db/ca.cnf" -cert ca.pem -keyfile ca.key -extensions ext \
        -startdate "$start" -enddate "$end" -in "$db/expired.csr" -out expired.pem \
        -notext >/dev/null 2>"$db/err" || { cat "$db/err" >&2; rm -rf "$db"; exit 1; }
    rm -rf "$db"
fi
if [ ! -d capath ]; then
    mkdir capath
    cp ca.pem capath/
    openssl rehash capath 2>/dev/null
fi
rm -f ca.srl
