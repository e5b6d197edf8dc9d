#!/usr/bin/env bash
# A cluster CA and a certificate for its members, with openssl:
#
#   deploy/tls/make-certs.sh DIR [NAME...]
#
# DIR gets (the CA is made once, and reused when DIR already has it):
#   ca.pem       the CA certificate: give it to every scheduler, worker and client (--tls-ca)
#   ca-key.pem   the CA's key: keep it away from the cluster, it signs members
#   cert.pem     a member certificate and key (--tls-cert, --tls-key): one may serve the whole
#   key.pem      cluster, or run the script again per member (it replaces cert.pem and key.pem)
#
# rask trusts a peer whose certificate chains to the CA; it does not check host names (workers
# serve on addresses nobody knows in advance). NAMEs (host names or IP addresses, besides
# localhost and 127.0.0.1) go in the certificate's subjectAltName for browsers opening the
# dashboard over HTTPS. RASK_CERT_DAYS sets the validity (default 365 days).
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR [NAME...]}
shift
days=${RASK_CERT_DAYS:-365}
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.pem ] || [ ! -f ca-key.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "/CN=rask cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca-key.pem -out ca.pem
fi
san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
done
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n' "$san" >member.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=rask member" \
  -keyout key.pem -out member.csr
openssl x509 -req -in member.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
  -extfile member.ext -out cert.pem 2>/dev/null
rm -f member.csr member.ext ca.srl
chmod 644 ca.pem cert.pem
echo "made $dir/cert.pem and $dir/key.pem, signed by $dir/ca.pem (names: $san)"
