#!/usr/bin/env bash
# fleet_smoke.sh BUILD_DIR — drot-fleet's smoke test in `make test`
# (tests/cmake/fleet.cmake): a few devices for a few seconds against a real
# drot-server on SQLite, so the tool cannot rot.
#
#   1. create 4 devices (manufacture in-process, register via the admin API)
#   2. enroll: 4 PASS, each device's certificate on disk
#   3. attest: 3 per device on persistent connections, then 2 on new ones:
#      every verdict PASS, latency percentiles ordered, server CPU counted
#   4. rotate (server mode): 4 rotations completed; the registry shows epoch 1
#   5. hold: 4 connections open at once, the server's memory sampled
#   6. what must fail does: a wrong CA (every exchange fails, exit 1, the
#      first error named), a corrupt devices.txt (exit 2), bad options (exit 2)
set -euo pipefail

B=$(cd "$1" && pwd)
FLEET=$B/tools/drot-fleet
SERVER=$B/server/drot-server
DROTCTL=$B/server/drotctl
for x in "$FLEET" "$SERVER" "$DROTCTL"; do
    [ -x "$x" ] || { echo "FAIL: $x is not built"; exit 1; }
done

T=$(mktemp -d /tmp/drot-fleet-smoke.XXXXXX)
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
export DROT_KEY_PASSPHRASE="fleet smoke passphrase"
cd "$T"

fails=0
check() { # check NAME PYTHON-EXPRESSION-ON-j FILE
    if python3 -c "import json,sys; j=json.load(open('$3')); sys.exit(0 if ($2) else 1)"; then
        echo "ok   $1"
    else
        echo "FAIL $1: $2"
        cat "$3"
        fails=$((fails + 1))
    fi
}

"$DROTCTL" init --dir keys --json >init.json
ANCHOR=$(python3 -c "import json; print(json.load(open('init.json'))['authority_anchor'])")
mkdir ref
echo '{"class":"fleet-v1","components":[{"type":"APM"}]}' >ref/fleet-v1.json
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
URL=https://127.0.0.1:$PORT
"$SERVER" --keys keys --db "sqlite:$T/db.sqlite" --reference ref --listen "127.0.0.1:$PORT" >server.log 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
    curl -sf --cacert keys/device-ca.crt.pem "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
COMMON=(--state st --server "$URL" --keys keys --server-pid "$SPID" --ref-seconds 0.05 --workers 2 --json --quiet)

# 1
"$FLEET" create --devices 4 --anchor "$ANCHOR" "${COMMON[@]}" >create.json
check "create: 4 manufactured" "j['exchanges']==4 and j['errors']==0" create.json
[ "$(wc -l <st/devices.txt)" -eq 4 ] && echo "ok   create: devices.txt" || { echo "FAIL devices.txt"; fails=$((fails + 1)); }

# 2
"$FLEET" enroll "${COMMON[@]}" >enroll.json
check "enroll: 4 PASS" "j['verdicts']['PASS']==4 and j['errors']==0 and j['latency']['count']==4" enroll.json
check "enroll: server CPU counted" "j['server_cpu_s']>0 and j['server_cpu_per_op_in_verifies']>0" enroll.json
[ "$(ls st/d/*/tls-cert-0.pem | wc -l)" -eq 4 ] && echo "ok   enroll: 4 certificates" ||
    { echo "FAIL certificates"; fails=$((fails + 1)); }

# 3
"$FLEET" attest --attests 3 "${COMMON[@]}" >attest.json
check "attest: 12 PASS, persistent" "j['verdicts']['PASS']==12 and j['errors']==0 and not j['new_connections']" attest.json
check "attest: percentiles ordered" \
    "0<j['latency']['p50_ms']<=j['latency']['p90_ms']<=j['latency']['p99_ms']<=j['latency']['max_ms']" attest.json
check "attest: reference measured" "j['reference']['ecdsa_p256_verify_us']>0 and j['reference']['x25519_derive_us']>0" attest.json
"$FLEET" attest --attests 2 --new-connections "${COMMON[@]}" >attest-new.json
check "attest: 8 PASS, new connections" "j['verdicts']['PASS']==8 and j['new_connections']" attest-new.json

# 4
"$FLEET" rotate --mode server "${COMMON[@]}" >rotate.json
check "rotate: 4 completed" "j['rotations']==4 and j['errors']==0" rotate.json
ID0=$(head -1 st/devices.txt)
"$DROTCTL" --server "$URL" --cert keys/operators/admin.crt.pem --key keys/operators/admin.key.pem \
    --ca keys/device-ca.crt.pem devices show "$ID0" --json >dev0.json
check "rotate: the registry has epoch 1" "j['epoch']==1" dev0.json
"$FLEET" attest --attests 1 "${COMMON[@]}" >attest-after.json
check "attest after the rotation: PASS under the new key" "j['verdicts']['PASS']==4 and j['errors']==0" attest-after.json

# 5
"$FLEET" hold "${COMMON[@]}" >hold.json
check "hold: 4 held, memory sampled" "j['held']==4 and j['servers'][0]['rss_kb_peak']>0 and j['servers'][0]['fds_peak']>=j['servers'][0]['fds_before']+4" hold.json

# 6
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other-ca.pem \
    -subj /CN=other -days 1 >/dev/null 2>&1
set +e
"$FLEET" attest --state st --server "$URL" --ca other-ca.pem --attests 1 --ref-seconds 0 --json --quiet >wrong.json
rc=$?
set -e
[ $rc -eq 1 ] && echo "ok   wrong CA: exit 1" || { echo "FAIL wrong CA: exit $rc"; fails=$((fails + 1)); }
check "wrong CA: every device failed, error named" "j['errors']==4 and j['devices_ok']==0 and 'does not verify' in j['first_error']" wrong.json
cp -r st bad && echo "not-a-device-id" >bad/devices.txt
set +e
"$FLEET" attest --state bad --server "$URL" --keys keys --quiet 2>bad.err
rc1=$?
"$FLEET" attest --state st --server "http://127.0.0.1:$PORT" --keys keys 2>usage.err
rc2=$?
"$FLEET" bogus 2>>usage.err
rc3=$?
set -e
[ $rc1 -eq 2 ] && grep -q "line 1 is not a device id" bad.err && echo "ok   corrupt devices.txt: exit 2" ||
    { echo "FAIL corrupt devices.txt: exit $rc1: $(cat bad.err)"; fails=$((fails + 1)); }
[ $rc2 -eq 2 ] && [ $rc3 -eq 2 ] && grep -q "must be https" usage.err && echo "ok   usage errors: exit 2" ||
    { echo "FAIL usage: $rc2 $rc3 $(cat usage.err)"; fails=$((fails + 1)); }
"$FLEET" --help | grep -q "usage: drot-fleet" && echo "ok   --help" || { echo "FAIL --help"; fails=$((fails + 1)); }

if [ $fails -ne 0 ]; then
    echo "server log:"
    tail -20 server.log
    echo "fleet_smoke: $fails check(s) failed"
    exit 1
fi
echo "fleet_smoke: all checks passed"
