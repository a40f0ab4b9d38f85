#!/usr/bin/env bash
# make demo: what drot can do today, end to end, with real processes.
#   1. the foundation's known-answer self-test (drot-selfcheck);
#   2. an authority key and two simulated APMs (drot-apm provision, run);
#   3. the host side (drot-agent): device info, measured host boot, an
#      attestation token bound to a challenge and a TLS exporter value,
#      sealed storage, and what the APM refuses (another device's blob,
#      key use after a tamper event).
#   4. the fleet: drotctl init, drot-server on SQLite (TLS 1.3, mutual TLS),
#      three devices manufactured, deployed and registered, their agents
#      running as daemons (enrollment, then PASS attestations), one device
#      tampered with (voltage glitch, power cycle): FAIL and automatic
#      quarantine, a root-key rotation of one device in each mode (DRoT), the
#      fleet's authority key rotated on every device;
#   5. firmware and policy: HOST-OS 1.1 signed and published, a policy that
#      wants it rolled out one device at a time (download, the APM's checks,
#      the host's A/B sets, reboot, PASS, the svn fuse raised), a downgrade
#      to 1.0 refused by the APM, a policy change that quarantines a device
#      that stops attesting, the audit log verified, and the fleet as a table.
# Everything runs in a temporary directory and every process it starts is
# stopped at the end, whatever happens.
set -euo pipefail

BUILD=${BUILD:-build}
APM=$BUILD/fw/drot-apm
AGENT=$BUILD/host/drot-agent
SELFCHECK=$BUILD/tools/drot-selfcheck
SERVER=$BUILD/server/drot-server
DROTCTL=$BUILD/server/drotctl
for p in "$APM" "$AGENT" "$SELFCHECK" "$SERVER" "$DROTCTL"; do
  [ -x "$p" ] || { echo "demo: $p is missing; run 'make build' first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/drot-demo-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "demo: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
agent() { local dev=$1; shift; "$AGENT" --socket "$work/$dev/apm.sock" --link-key "$work/$dev/host-link.key" "$@"; }
control() { python3 - "$work/$1/control.sock" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send((sys.argv[2] + "\n").encode())
print(s.recv(256).decode().strip())
EOF
}
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "demo: $1 did not appear" >&2; exit 1; }

step "1. known-answer self-test of the crypto port and the formats"
"$SELFCHECK"

step "2. an authority key, and two devices manufactured with it"
openssl ecparam -genkey -name prime256v1 -noout -out "$work/authority.pem" 2>/dev/null
for dev in dev1 dev2; do
  "$APM" provision --state "$work/$dev" --authority-key "$work/authority.pem" | tee "$work/$dev.json"
  "$APM" run --state "$work/$dev" 2>/dev/null &
  pids+=($!)
  wait_socket "$work/$dev/apm.sock"
done

step "3. dev1 as its host sees it"
agent dev1 info

step "4. measured host boot: the host's boot loader image is hashed and extended"
head -c 65536 /dev/urandom > "$work/host-bl.bin"
anchor=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["anchor"])' "$work/dev1.json")
index=$(agent dev1 measure --type HOST-BL --version 2.4.1 --signer "$anchor" "$work/host-bl.bin")
echo "extended as measurement $index: SHA-256 $(sha256sum "$work/host-bl.bin" | cut -c1-64)"

step "5. an attestation token bound to a server challenge and the TLS exporter"
challenge=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
exporter=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
agent dev1 attest --challenge "$challenge" --exporter "$exporter" --out "$work/token.cbor"
echo "token: $(stat -c %s "$work/token.cbor") bytes, COSE_Sign1 signed by dev1's device root key;"
echo "its nonce is SHA-256(challenge || exporter), so it is useless on any other connection"

step "6. sealed storage: a secret only dev1's APM can open"
echo "wifi-psk=correct horse battery staple" | agent dev1 seal --storage "$work/dev1-storage" --label wifi.conf
ls -l "$work/dev1-storage"
agent dev1 unseal --storage "$work/dev1-storage" --label wifi.conf

step "7. the same blob given to dev2's APM is refused"
mkdir -m 700 "$work/dev2-storage"
cp "$work/dev1-storage/wifi.conf" "$work/dev2-storage/wifi.conf"
if agent dev2 unseal --storage "$work/dev2-storage" --label wifi.conf; then
  echo "demo: dev2 opened dev1's blob: this must never happen" >&2; exit 1
fi

step "8. tamper: dev2's supply voltage drops out of range"
control dev2 "tamper voltage 2500"
if agent dev2 attest --nonce "$challenge"; then
  echo "demo: a tampered device signed a token: this must never happen" >&2; exit 1
fi
agent dev2 tamper-log

step "9. the fleet: keys and certificate authorities (drotctl init)"
export DROT_KEY_PASSPHRASE="demo-passphrase-$$"
"$DROTCTL" init --dir "$work/keys" > "$work/init.txt"
head -12 "$work/init.txt"
fleet_anchor=$(grep -A1 '^authority anchor' "$work/init.txt" | tail -1 | tr -d ' ')
echo "the devices will trust this authority key for DRoT (anchor slot 1): $fleet_anchor"

step "10. reference values for class sim-v1: deployed devices running the approved host OS"
head -c 32768 /dev/urandom > "$work/host-os.bin"
approved=$(sha256sum "$work/host-os.bin" | cut -c1-64)
mkdir -p "$work/ref"
printf '{"class": "sim-v1",\n "components": [{"type": "APM"}, {"type": "HOST-OS", "digests": ["%s"]}],\n "tamper": {"new_events": "fail"},\n "on_fail": "quarantine"}\n' \
  "$approved" > "$work/ref/sim-v1.json"
cat "$work/ref/sim-v1.json"

step "11. drot-server on SQLite, TLS 1.3 with mutual TLS, attestation every 2 s"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
"$SERVER" --listen "127.0.0.1:$port" --db "sqlite:$work/drot.db" --keys "$work/keys" \
  --reference "$work/ref" --attest-interval 2 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -sf --cacert "$work/keys/device-ca.crt.pem" "$url/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
echo "listening on $url"
admin() {
  "$DROTCTL" --server "$url" --cert "$work/keys/operators/admin.crt.pem" \
    --key "$work/keys/operators/admin.key.pem" --ca "$work/keys/device-ca.crt.pem" "$@"
}
# wait_for WHAT PYTHON-CONDITION: polls the fleet (devices list --json) until
# the condition on `d` (device id -> DEVICE) holds; 40 s at most.
wait_for() {
  local what=$1 cond=$2
  printf 'waiting for %s ' "$what"
  for _ in $(seq 80); do
    if admin devices list --json | python3 -c '
import json, sys
ids = {n: json.load(open(sys.argv[1] + "/" + n + ".json"))["device_id"] for n in ("fleet1", "fleet2", "fleet3")}
fleet = json.load(sys.stdin)["devices"]
d = {n: next((x for x in fleet if x["device_id"] == i), {}) for n, i in ids.items()}
sys.exit(0 if ('"$cond"') else 1)' "$work"; then
      echo " done"; return 0
    fi
    printf '.'; sleep 0.5
  done
  echo; echo "demo: timed out waiting for $what" >&2; exit 1
}

step "12. three devices manufactured (anchors: the firmware signer and the fleet authority), deployed, booted with the approved host OS, and registered"
start_apm() { "$APM" run --state "$work/$1" 2>/dev/null & apm_pid[$1]=$!; pids+=($!); wait_socket "$work/$1/apm.sock"; }
declare -A apm_pid
for dev in fleet1 fleet2 fleet3; do
  "$APM" provision --state "$work/$dev" --authority-key "$work/authority.pem" --anchor "$fleet_anchor" \
    > "$work/$dev.json"
  "$APM" deploy --state "$work/$dev" >/dev/null
  start_apm "$dev"
  agent "$dev" measure --type HOST-OS --version 6.1 --signer "$anchor" "$work/host-os.bin" >/dev/null
done
cat "$work/fleet1.json" "$work/fleet2.json" "$work/fleet3.json" > "$work/fleet.ndjson"
admin devices register --class sim-v1 "$work/fleet.ndjson"

step "13. each device's agent starts as a daemon: it enrolls (a token bound to its TLS connection, a certificate in return), then attests every 2 s"
declare -A agent_pid
# exec: $! must be drot-agent itself, not a subshell that would outlive a kill.
start_agent() {
  (exec "$AGENT" --socket "$work/$1/apm.sock" --link-key "$work/$1/host-link.key" run --server "$url" \
    --ca "$work/keys/device-ca.crt.pem" --storage "$work/$1-tls" --host-fw "$work/$1-host" \
    2>>"$work/$1-agent.log") &
  agent_pid[$1]=$!; pids+=($!)
}
for dev in fleet1 fleet2 fleet3; do
  mkdir -m 700 "$work/$dev-tls"
  start_agent "$dev"
done
wait_for "three PASS attestations after enrollment" \
  'all(x.get("status") == "active" and x.get("last_result") == "PASS" and x.get("attest_count", 0) >= 2 for x in d.values())'
for dev in fleet1 fleet2 fleet3; do echo "-- $dev agent:"; head -2 "$work/$dev-agent.log"; done

step "14. fleet3 is attacked: a voltage glitch on its APM's supply"
control fleet3 "tamper voltage 2500"
echo "the APM logs the event and refuses every key use until it is reset; fleet3's agent:"
for _ in $(seq 40); do grep -q "error" "$work/fleet3-agent.log" && break; sleep 0.25; done
grep -m1 "error" "$work/fleet3-agent.log"
echo "fleet3 is power-cycled: the APM boots again, the host measures its OS again, the agent restarts;"
echo "the APM's next token carries its tamper count, one higher than at the last attestation"
kill "${agent_pid[fleet3]}" "${apm_pid[fleet3]}"
wait "${agent_pid[fleet3]}" "${apm_pid[fleet3]}" 2>/dev/null || true
start_apm fleet3
agent fleet3 measure --type HOST-OS --version 6.1 --signer "$anchor" "$work/host-os.bin" >/dev/null
start_agent fleet3
wait_for "fleet3's FAIL and automatic quarantine" \
  'd["fleet3"].get("status") == "quarantined" and d["fleet3"].get("last_result") == "FAIL"'
fleet3_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/fleet3.json")
admin devices history "$fleet3_id" --limit 3

step "15. dynamic root of trust: fleet1's root key rotated by the server, fleet2's by its own APM"
admin rotate "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/fleet1.json")" --mode server
admin rotate "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/fleet2.json")" --mode device
wait_for "both rotations to complete at the devices' next attestation" \
  'd["fleet1"].get("epoch") == 1 and d["fleet2"].get("epoch") == 1'
admin rotations
for dev in fleet1 fleet2; do
  echo "-- $dev: $(grep 'rotation job' "$work/$dev-agent.log" | tail -1 | sed 's/^drot-agent: //')"
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/$dev.json")
  admin devices show "$id" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
old = d["key_history"][-1]
print("   epoch %d, instance id %s…  (was epoch %d, %s…, no longer accepted)" % (d["epoch"], d["instance_id"][:18], old["epoch"], old["instance_id"][:18]))'
done

step "16. the fleet's authority key is rotated: every active device trusts authority-2, then revokes the old key"
admin authority rotate --dir "$work/keys"
printf 'waiting for the trust-anchor rotations of fleet1 and fleet2 (fleet3 is quarantined: skipped) '
done_anchor=0
for _ in $(seq 80); do
  n=$(admin rotations --state completed --json |
      python3 -c 'import json,sys; print(sum(r["kind"] == "rotate-anchor" for r in json.load(sys.stdin)["rotations"]))')
  if [ "$n" -ge 2 ]; then done_anchor=1; break; fi
  printf '.'; sleep 0.5
done
[ "$done_anchor" = 1 ] || { echo; echo "demo: timed out waiting for the trust-anchor rotations" >&2; exit 1; }
echo " done"
admin rotations
for dev in fleet1 fleet2; do
  echo "-- $dev: $(grep 'trust-anchor rotation job' "$work/$dev-agent.log" | tail -1 | sed 's/^drot-agent: //')"
done

step "17. firmware: HOST-OS 1.1 signed by the fleet's authority and published; policy version 1 for class sim-v1 accepts it and wants it, one device at a time"
auth2=$("$DROTCTL" keys --dir "$work/keys" --json | python3 -c '
import json, sys
keys = [k for k in json.load(sys.stdin)["keys"] if k["role"] == "authority"]
print(sorted(keys, key=lambda k: k["created"])[-1]["name"])')
head -c 32768 /dev/urandom > "$work/host-os-1.1.bin"
"$DROTCTL" firmware sign --dir "$work/keys" --key "$auth2" --component HOST-OS --version 1.0 --svn 1 \
  --out "$work/host-os-1.0.cose" "$work/host-os.bin" >/dev/null
"$DROTCTL" firmware sign --dir "$work/keys" --key "$auth2" --component HOST-OS --version 1.1 --svn 2 \
  --out "$work/host-os-1.1.cose" "$work/host-os-1.1.bin"
admin firmware publish "$work/host-os-1.1.cose" "$work/host-os-1.1.bin" 2>/dev/null
new_os=$(sha256sum "$work/host-os-1.1.bin" | cut -c1-64)
cat > "$work/policy-1.json" <<JSON
{"class": "sim-v1", "version": 1,
 "reference": {"components": [{"type": "APM"}, {"type": "HOST-OS", "digests": ["$approved", "$new_os"]}],
               "tamper": {"new_events": "fail"}},
 "firmware": {"HOST-OS": {"version": "1.1", "max_in_flight": 1}},
 "actions": {"on_fail": ["quarantine"]}}
JSON
cat "$work/policy-1.json"
"$DROTCTL" policy validate "$work/policy-1.json"
admin policy plan "$work/policy-1.json"
admin policy apply "$work/policy-1.json"

step "18. the devices update: download, the APM checks the manifest and the image, the agent stages it in the host's other A/B set; the host reboots into it, attests PASS, and the APM raises svn[HOST-OS]"
# power-cycle DEV: the APM boots again and the host's boot stage measures the
# OS it is about to run, checked by the APM against its manifest first
reboot_device() {
  kill "${agent_pid[$1]}" "${apm_pid[$1]}"
  wait "${agent_pid[$1]}" "${apm_pid[$1]}" 2>/dev/null || true
  start_apm "$1"
  agent "$1" measure --manifest "$work/$1-host/current/HOST-OS.cose" "$work/$1-host/current/HOST-OS.img"
  start_agent "$1"
}
# job_states: "DEVICE-ID STATE" per firmware job (the 1.1 rollout's are the only ones)
job_states() {
  admin firmware jobs --json | python3 -c '
import json, sys
for j in json.load(sys.stdin)["jobs"]:
    print(j["device_id"], j["state"])'
}
# The rollout offers one device at a time, in whatever order they attest:
# each one that has staged the update is rebooted into it.
declare -A dev_of
for dev in fleet1 fleet2; do
  dev_of[$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/$dev.json")]=$dev
done
for round in 1 2; do
  printf 'waiting for a device to stage HOST-OS 1.1 '
  dev=
  for _ in $(seq 120); do
    id=$(job_states | awk '!found && $2 == "installed" {print $1; found = 1}')
    if [ -n "$id" ]; then dev=${dev_of[$id]:-}; break; fi
    printf '.'; sleep 0.5
  done
  [ -n "$dev" ] || { echo; echo "demo: no device staged the update (round $round)" >&2; exit 1; }
  echo " $dev"
  grep "staged in" "$work/$dev-agent.log" | tail -1 | sed 's/^drot-agent: /   /'
  echo "-- $dev reboots into $(readlink "$work/$dev-host/current")/HOST-OS.img; its boot stage has the APM check it against its manifest, then measures it"
  reboot_device "$dev" >/dev/null
  printf 'waiting for the PASS attestation on 1.1 and the confirmation '
  for _ in $(seq 120); do
    job_states | grep "^$id confirmed" >/dev/null && break
    printf '.'; sleep 0.5
  done
  job_states | grep "^$id confirmed" >/dev/null || { echo; echo "demo: $dev did not confirm the update" >&2; exit 1; }
  echo " done"
done
admin firmware rollouts
admin firmware jobs

step "19. rollback refused: fleet1's APM will not take HOST-OS 1.0 (SVN 1) now that its svn[HOST-OS] fuse is 2"
kill "${agent_pid[fleet1]}"; wait "${agent_pid[fleet1]}" 2>/dev/null || true
agent fleet1 fw status | grep "svn fuses" || true
if agent fleet1 fw install "$work/host-os-1.0.cose" "$work/host-os.bin"; then
  echo "demo: fleet1's APM accepted a downgrade" >&2; exit 1
fi
start_agent fleet1

step "20. a policy change: version 2 says a device that misses 3 attestations (every 2 s) is quarantined; fleet2 goes silent"
kill "${agent_pid[fleet2]}"; wait "${agent_pid[fleet2]}" 2>/dev/null || true
python3 - "$work/policy-1.json" > "$work/policy-2.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["version"] = 2
p["attestation"] = {"interval_s": 2, "missed_limit": 3}
p["actions"]["on_missed"] = ["quarantine"]
print(json.dumps(p, indent=1))
PY
admin policy apply "$work/policy-2.json"
wait_for "fleet2 to go stale and be quarantined by the policy" \
  'd["fleet2"].get("status") == "quarantined" and d["fleet1"].get("status") == "active"'
fleet2_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$work/fleet2.json")
admin devices show "$fleet2_id" | grep -m3 -i -E "status|reason"

step "21. the audit log: every change above, hash-chained and checkpointed; verified against the audit key"
admin audit checkpoint >/dev/null
admin audit verify --keys "$work/keys"

step "22. the fleet"
admin devices list

step "23. done: stopping the agents, the server and the devices"
