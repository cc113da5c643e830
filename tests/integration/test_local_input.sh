#!/usr/bin/env bash
# test_local_input.sh: issue 13 item 8 at the CLI. A CA, client certificate/key or token file
# that is a directory, a FIFO or a device gets one line ("not a regular file") and exit 255: a
# directory used to abort the ASan build (mbedTLS allocated its "size", 2^63 bytes) and a FIFO
# blocked forever. A kubeconfig with 100 k anchors and as many aliases is refused at once (more
# than 10000 aliases), and one with 100 k anchors and 10 k aliases is read. auth-provider
# users fail before connecting with one line naming the provider.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
export ASAN_OPTIONS="detect_leaks=1:exitcode=99"
# an oidc id-token (a JWT expiring in 2100) is the sim's admin token
# (short: podmux-sim keeps at most 64 bytes of --token)
TOK=$(/usr/bin/python3 -c 'import base64
e = lambda s: base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()
print(e("{}") + "." + e("{\"exp\":4102444800}") + ".s")')
start_sim --token "$TOK"
POD=$(pod_names | head -1)
mkdir "$T/dir"
mkfifo "$T/fifo"

# one NAME WANT ARGS...: podmux ARGS exec POD -- echo ran: exit 255, stderr exactly WANT.
one() {
  local name=$1 want=$2 rc=0; shift 2
  timeout 60 "$PODMUX" "$@" exec "$POD" -- echo ran </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  if grep -Eq 'Sanitizer|runtime error:|AddressSanitizer' "$T/$name.err"; then fail "$name: $(head -20 "$T/$name.err")"; fi
  expect_eq "$rc" 255 "$name: exit ($(cat "$T/$name.err"))"
  expect_eq "$(cat "$T/$name.err")" "$want" "$name"
  [ ! -s "$T/$name.out" ] || fail "$name: output $(cat "$T/$name.out")"
  echo "ok   $name"
}
# kc NAME USER_JSON: the sim's kubeconfig with the user's fields replaced by USER_JSON
kc() {
  /usr/bin/python3 - "$KUBECONFIG" "$2" "$T/$1.kc" <<'PY'
import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["users"][0]["user"] = json.loads(sys.argv[2])
yaml.safe_dump(c, open(sys.argv[3], "w"))
PY
}
for f in dir fifo; do
  one "ca-$f" "podmux: invalid configuration: unable to read certificate-authority $T/$f for podmux-sim due to not a regular file" \
    --certificate-authority "$T/$f"
done
one ca-dev "podmux: invalid configuration: unable to read certificate-authority /dev/null for podmux-sim due to not a regular file" \
  --certificate-authority /dev/null
for f in dir fifo; do
  kc "tok-$f" "{\"tokenFile\": \"$T/$f\"}"
  one "token-$f" "podmux: invalid configuration: unable to read tokenFile $T/$f for podmux-admin due to not a regular file" \
    --kubeconfig "$T/tok-$f.kc"
  kc "key-$f" "{\"client-certificate\": \"$T/state/ca.crt\", \"client-key\": \"$T/$f\"}"
  one "key-$f" "podmux: invalid configuration: unable to read client-key $T/$f for podmux-admin due to not a regular file" \
    --kubeconfig "$T/key-$f.kc"
done
kc gcp '{"auth-provider": {"name": "gcp"}}'
one auth-provider-gcp 'podmux: user podmux-admin: auth-provider "gcp" is not supported (client-go removed it); use the gke-gcloud-auth-plugin exec plugin instead' \
  --kubeconfig "$T/gcp.kc"
kc oidc-expired '{"auth-provider": {"name": "oidc", "config": {"id-token": "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2kiLCJleHAiOjEwMDAwMDAwMDB9.sig", "refresh-token": "r", "idp-issuer-url": "https://i", "client-id": "k"}}}'
one oidc-expired 'podmux: user podmux-admin: auth-provider "oidc" has an expired id-token, and podmux does not refresh it; use an exec credential plugin such as kubelogin (https://github.com/int128/kubelogin) instead' \
  --kubeconfig "$T/oidc-expired.kc"

# an unexpired oidc id-token is sent as the bearer token: it is the sim's admin token here
kc oidc-ok "{\"auth-provider\": {\"name\": \"oidc\", \"config\": {\"id-token\": \"$TOK\", \"idp-issuer-url\": \"https://i\", \"client-id\": \"k\"}}}"
rc=0
"$PODMUX" --kubeconfig "$T/oidc-ok.kc" exec "$POD" -- echo ran </dev/null >"$T/oidc.out" 2>"$T/oidc.err" || rc=$?
expect_eq "$rc/$(cat "$T/oidc.out")" "0/ran" "oidc id-token ($(cat "$T/oidc.err"))"
if command -v kubectl >/dev/null; then # kubectl's oidc provider sends it the same way
  out=$(kubectl --kubeconfig "$T/oidc-ok.kc" exec "$POD" -- echo ran 2>&1) || true
  expect_eq "$out" ran "kubectl with the same oidc user"
fi
echo "ok   oidc id-token sent"

# anchors and aliases
/usr/bin/python3 - "$KUBECONFIG" "$T/aliases-ok.kc" 10000 "$T/aliases-bad.kc" 100000 <<'PY'
import sys
base = open(sys.argv[1]).read()
for out, n in ((sys.argv[2], int(sys.argv[3])), (sys.argv[4], int(sys.argv[5]))):
    with open(out, "w") as f:
        f.write(base + "preferences:\n")
        f.write("".join("  a%d: &a%d v%d\n" % (i, i, i) for i in range(100000)))
        f.write("  b: [" + ",".join("*a%d" % (i * 7 % 100000) for i in range(n)) + "]\n")
PY
rc=0
timeout 120 "$PODMUX" --kubeconfig "$T/aliases-ok.kc" exec "$POD" -- echo ran </dev/null >"$T/al.out" 2>"$T/al.err" || rc=$?
expect_eq "$rc/$(cat "$T/al.out")" "0/ran" "10 k aliases ($(cat "$T/al.err"))"
echo "ok   100 k anchors, 10 k aliases: read"
line=$(($(grep -c '' "$T/aliases-bad.kc")))
one aliases-bad "podmux: kubeconfig $T/aliases-bad.kc line $line: yaml: more than 10000 aliases" \
  --kubeconfig "$T/aliases-bad.kc"
echo "PASS ($SECONDS s)"
