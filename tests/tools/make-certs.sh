#!/usr/bin/env bash
# make-certs.sh DIR -- throwaway PKI for TLS tests, made with the openssl CLI:
#   ca.pem/ca.key           the CA that signs the rest
#   server.pem/server.key   CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   client.pem/client.key   a client certificate from ca.pem (mTLS)
#   other-ca.pem            an unrelated CA, and other-client.pem/.key signed by it
# EC P-256 keys, valid for 2 days. Nothing is read from or written outside DIR.
set -euo pipefail
d=${1:?usage: make-certs.sh DIR}
mkdir -p "$d"
cd "$d"
ossl() { openssl "$@" 2>/dev/null; }
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() { # name CN
  key "$1.key"
  ossl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name CA CN extfile-lines...
  local name=$1 ca=$2 cn=$3; shift 3
  key "$name.key"
  ossl req -new -key "$name.key" -out "$name.csr" -subj "/CN=$cn"
  printf '%s\n' "$@" >"$name.ext"
  ossl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
    -out "$name.pem" -days 2 -extfile "$name.ext"
  rm -f "$name.csr" "$name.ext"
}
ca ca "pipit test CA"
ca other-ca "pipit unrelated CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature"
leaf client ca "pipit test client" "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature"
leaf other-client other-ca "pipit stranger" "extendedKeyUsage=clientAuth" \
  "keyUsage=critical,digitalSignature"
rm -f ./*.srl
