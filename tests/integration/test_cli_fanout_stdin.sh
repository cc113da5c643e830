#!/usr/bin/env bash
# Fan-out stdin broadcast at size: 20 MiB read once from podmux's stdin, sent to 50 pods
# running sha256sum; every pod must print the same sum as the local one.
. "$(dirname "$0")/lib.sh"
start_sim --pods 50
head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/in"
want=$(sha256sum <"$T/in" | cut -d' ' -f1)
start=$(date +%s)
timeout 300 "$PODMUX" exec -i -l app=web -o json -- sh -c 'sha256sum | cut -d" " -f1' \
  <"$T/in" >"$T/o" 2>"$T/e" || fail "podmux failed: $(tail -3 "$T/e")"
/usr/bin/python3 - "$T/o" "$want" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
outs = [o for o in got if o["type"] == "output"]
pods = {o["pod"] for o in outs}
assert len(pods) == 50, len(pods)
bad = [o["pod"] for o in outs if o["data"] != sys.argv[2] + "\n"]
assert not bad, bad[:5]
PY
echo "20 MiB to 50 pods: all 50 sums equal ($(( $(date +%s) - start )) s)"
