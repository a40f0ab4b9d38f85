#!/usr/bin/env bash
# bench_fleet.sh BUILD_DIR — the server-level benchmarks of `make bench`
# (docs/performance.md). Real drot-server processes on SQLite and on a
# private PostgreSQL cluster, driven by drot-fleet; every figure a ratio of
# two quantities measured in this run. Server CPU is the server process's
# own (/proc/PID/stat); the raw operations are measured by drot-fleet through
# OpenSSL just before and after each phase.
#
# Sizes (environment; defaults keep the whole `make bench` under 15 minutes
# on 2 shared cores — docs/performance.md says which were scaled down):
#   BENCH_DEVICES      fleet for the overhead, enrollment, rotation figures (default 500)
#   BENCH_ATTESTS      attestations per device in a storm (default 8)
#   BENCH_WORKERS      drot-fleet device threads (default 16)
#   BENCH_HOLD         devices connected at once for the memory figure (default: BENCH_DEVICES)
#   BENCH_GROWTH_BIG   registry size for the growth figure (default 1000000)
#   BENCH_GROWTH_SMALL (default 1000)
#   BENCH_GROWTH_FLEET devices of the fleet that attest in the growth figure (default 100)
#   BENCH_OUT          directory for the JSON of every phase (default: a temporary one, removed)
#   BENCH_ONLY         "custody": only the phases that sign with stored keys (SQLite: create,
#                      enroll, rotate; then two servers sharing one key directory, enrolling at
#                      both), for the key-custody figures (docs/performance.md); "attest": only
#                      the SQLite attestation storm, for the overhead figure alone; default: all
#   BENCH_SERVER       the drot-server binary (default BUILD_DIR/server/drot-server), to compare
#                      two builds with the same fleet
# Output: progress on stderr, the table on stdout.
set -euo pipefail

B=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FLEET=$B/tools/drot-fleet
SERVER=${BENCH_SERVER:-$B/server/drot-server}
DROTCTL=$B/server/drotctl
FILL=$B/tests/bench/drot-bench-fill
N=${BENCH_DEVICES:-500}
K=${BENCH_ATTESTS:-8}
W=${BENCH_WORKERS:-16}
HOLD=${BENCH_HOLD:-$N}
G_BIG=${BENCH_GROWTH_BIG:-1000000}
G_SMALL=${BENCH_GROWTH_SMALL:-1000}
G_FLEET=${BENCH_GROWTH_FLEET:-100}
ONLY=${BENCH_ONLY:-all}
case "$ONLY" in all | custody | attest) ;; *) echo "bench_fleet.sh: BENCH_ONLY must be all, custody or attest" >&2; exit 2 ;; esac

T=$(mktemp -d /tmp/drot-bench.XXXXXX)
OUT=${BENCH_OUT:-$T/out}
mkdir -p "$OUT"
PG=/tmp/drot-bench-pg-$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$SRC/tests/support/pg_cluster.sh" stop "$PG" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
export DROT_KEY_PASSPHRASE="drot bench passphrase"
log() { echo "bench_fleet: $*" >&2; }
cd "$T"
START=$(date +%s)

"$DROTCTL" init --dir keys --json >init.json
ANCHOR=$(python3 -c "import json; print(json.load(open('init.json'))['authority_anchor'])")
mkdir ref
echo '{"class":"fleet-v1","components":[{"type":"APM"}]}' >ref/fleet-v1.json

free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# start_server VAR DB [KEYDIR]: starts a server, sets VAR_URL and VAR_PID.
start_server() {
    local name=$1 db=$2 kd=${3:-keys} port
    port=$(free_port)
    "$SERVER" --keys "$kd" --db "$db" --reference ref --listen "127.0.0.1:$port" --challenge-ttl 600 \
        >"server-$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 200); do
        curl -sf --cacert keys/device-ca.crt.pem "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    printf -v "${name}_URL" '%s' "https://127.0.0.1:$port"
    printf -v "${name}_PID" '%s' "$pid"
}
# fleet NAME ARGS...: one drot-fleet phase, its JSON in $OUT/NAME.json.
fleet() {
    local name=$1
    shift
    log "$name: drot-fleet $*"
    if ! "$FLEET" "$@" --keys keys --workers "$W" --json >"$OUT/$name.json"; then
        log "$name: errors: $(python3 -c "import json; print(json.load(open('$OUT/$name.json')).get('first_error'))" 2>/dev/null)"
    fi
}

if [ "$ONLY" = custody ]; then
    # Key custody only: every enrollment signs with the device CA key, every rotation with the
    # authority key. Then two servers on one key directory (each its own database), every device
    # enrolled at both: no enrollment may fail, and the CA key's use count must rise by exactly
    # the enrollments once both servers have stopped.
    start_server SQ "sqlite:$T/sq.db"
    S=(--state sq --server "$SQ_URL" --server-pid "$SQ_PID")
    fleet sq-create create --devices "$N" --anchor "$ANCHOR" "${S[@]}" --ref-seconds 0
    fleet sq-enroll enroll "${S[@]}"
    fleet sq-rotate rotate --mode server "${S[@]}"
    kill "$SQ_PID"
    wait "$SQ_PID" 2>/dev/null || true
    ca_uses() {
        "$DROTCTL" keys --dir keys --json |
            python3 -c "import json,sys; print([k['uses'] for k in json.load(sys.stdin)['keys'] if k['name']=='device-ca'][0])"
    }
    U0=$(ca_uses)
    start_server SA "sqlite:$T/sa.db"
    start_server SB "sqlite:$T/sb.db"
    SH=(--state sh --each-server --server "$SA_URL" --server "$SB_URL")
    fleet sh-create create --devices "$N" --anchor "$ANCHOR" "${SH[@]}" --ref-seconds 0
    fleet sh-enroll enroll "${SH[@]}" --server-pid "$SA_PID" --server-pid "$SB_PID" --ref-seconds 0
    kill "$SA_PID" "$SB_PID"
    wait "$SA_PID" "$SB_PID" 2>/dev/null || true
    U1=$(ca_uses)
    python3 - "$OUT" "$N" "$U0" "$U1" <<'EOF'
import json, os, sys
out, n, u0, u1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def j(name):
    return json.load(open(os.path.join(out, name + ".json")))
e, ro, sh = j("sq-enroll"), j("sq-rotate"), j("sh-enroll")
r = e["reference"]
raw_e = r["x25519_keygen_us"] + r["x25519_derive_us"] + 2 * r["ecdsa_p256_sign_us"] + 2 * r["ecdsa_p256_verify_us"]
r = ro["reference"]
raw_r = (3 * r["ecdsa_p256_verify_us"] + 2 * r["p256_keygen_us"] + r["ecdh_p256_us"] + r["ecdsa_p256_sign_us"]
         + 2 * (r["x25519_keygen_us"] + r["x25519_derive_us"] + r["ecdsa_p256_sign_us"] + 2 * r["ecdsa_p256_verify_us"]))
print(f"\n# drot key-custody benchmark (BENCH_ONLY=custody): {n} devices, SQLite")
print(f"enrollment cost, SQLite             | {e['server_cpu_per_op_us'] / raw_e:7.2f} | server CPU "
      f"{e['server_cpu_per_op_us']:.0f} us / raw ops {raw_e:.0f} us; {e['exchanges']} enrollments, {e['errors']} errors")
print(f"rotation cost, SQLite (server mode) | {ro['server_cpu_per_op_us'] / raw_r:7.2f} | server CPU "
      f"{ro['server_cpu_per_op_us']:.0f} us / raw ops {raw_r:.0f} us; {ro.get('rotations')} rotations, {ro['errors']} errors")
print(f"two servers, one key directory      | {sh['errors']:7d} | enrollment errors in {sh['exchanges']} + "
      f"{sh['errors']}; device-ca uses {u0} -> {u1} (+{u1 - u0}), first error: {sh.get('first_error')}")
EOF
    exit 0
fi

if [ "$ONLY" = attest ]; then
    # The attestation overhead on SQLite only: create, enroll, then the storm.
    start_server SQ "sqlite:$T/sq.db"
    S=(--state sq --server "$SQ_URL" --server-pid "$SQ_PID")
    fleet sq-create create --devices "$N" --anchor "$ANCHOR" "${S[@]}" --ref-seconds 0
    fleet sq-enroll enroll "${S[@]}"
    fleet sq-attest attest --attests "$K" "${S[@]}"
    python3 - "$OUT" "$N" "$K" <<'EOF'
import json, os, sys
out, n, k = sys.argv[1:]
a = json.load(open(os.path.join(out, "sq-attest.json")))
print(f"\n# drot attestation benchmark (BENCH_ONLY=attest): {n} devices x {k} attestations, SQLite")
print(f"attestation overhead, SQLite | {a['server_cpu_per_op_in_verifies']:7.2f} | server CPU "
      f"{a['server_cpu_per_op_us']:.0f} us per attestation / raw verify {a['reference']['ecdsa_p256_verify_us']:.1f} us; "
      f"{a['exchanges']} attestations, {a['errors']} errors; p50 {a['latency']['p50_ms']:.1f} ms, "
      f"p99 {a['latency']['p99_ms']:.1f} ms")
EOF
    exit 0
fi

log "PostgreSQL: private cluster in $PG"
PGURL=$(bash "$SRC/tests/support/pg_cluster.sh" start "$PG")

# 1. SQLite: enrollment, attestation storm (persistent and new connections), rotation, hold.
start_server SQ "sqlite:$T/sq.db"
S=(--state sq --server "$SQ_URL" --server-pid "$SQ_PID")
fleet sq-create create --devices "$N" --anchor "$ANCHOR" "${S[@]}" --ref-seconds 0
fleet sq-enroll enroll "${S[@]}"
fleet sq-attest attest --attests "$K" "${S[@]}"
fleet sq-attest-new attest --attests 2 --new-connections "${S[@]}"
fleet sq-rotate rotate --mode server "${S[@]}"
# Memory: a fresh server process on the same database, so its RSS before is the idle baseline.
start_server SH "sqlite:$T/sq.db"
fleet sq-hold hold --devices "$HOLD" --state sq --server "$SH_URL" --server-pid "$SH_PID" --ref-seconds 0
kill "$SH_PID"

# 2. PostgreSQL: the same storm; then scale-out: one server, then two on the same database.
start_server PA "$PGURL"
start_server PB "$PGURL"
fleet pg-create create --devices "$N" --anchor "$ANCHOR" --state pg --server "$PA_URL" --ref-seconds 0
fleet pg-enroll enroll --state pg --server "$PA_URL" --server-pid "$PA_PID"
fleet pg-attest attest --attests "$K" --state pg --server "$PA_URL" --server-pid "$PA_PID"
for rep in 1 2; do
    fleet "pg-one-$rep" attest --attests "$K" --state pg --server "$PA_URL" --server-pid "$PA_PID" --ref-seconds 0
    fleet "pg-two-$rep" attest --attests "$K" --state pg --server "$PA_URL" --server "$PB_URL" \
        --server-pid "$PA_PID" --server-pid "$PB_PID" --ref-seconds 0
done

# 3. Registry growth (SQLite): two servers side by side, one with G_SMALL registered devices and one
#    with G_BIG, the same fleet registered and enrolled at both; each attestation alternates.
log "growth: filling a registry of $G_BIG (bulk registration through the store API)"
"$FILL" --db "sqlite:$T/big.db" --count $((G_BIG - G_FLEET)) >"$OUT/fill-big.json" 2>/dev/null
"$FILL" --db "sqlite:$T/small.db" --count $((G_SMALL - G_FLEET)) >"$OUT/fill-small.json" 2>/dev/null
# Both servers on the one key directory (docs/keys.md §2.3).
start_server GS "sqlite:$T/small.db"
start_server GB "sqlite:$T/big.db"
G=(--state gr --each-server --server "$GS_URL" --server "$GB_URL" --server-pid "$GS_PID" --server-pid "$GB_PID")
fleet gr-create create --devices "$G_FLEET" --anchor "$ANCHOR" "${G[@]}" --ref-seconds 0
fleet gr-enroll enroll "${G[@]}" --ref-seconds 0
fleet gr-attest attest --attests $((K * 2)) "${G[@]}" --ref-seconds 0

for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done

# 4. The APM token cost, for each backend.
for b in openssl bearssl; do
    log "APM token cost, $b"
    "$B/tests/bench/drot-bench-apm-$b" --json >"$OUT/apm-$b.json"
done
ELAPSED=$(($(date +%s) - START))

# The table.
python3 - "$OUT" "$N" "$K" "$W" "$HOLD" "$G_SMALL" "$G_BIG" "$G_FLEET" "$ELAPSED" <<'EOF'
import json, sys, os, statistics
out, n, k, w, hold, gs, gb, gf, elapsed = sys.argv[1:]
def j(name):
    p = os.path.join(out, name + ".json")
    try:
        return json.load(open(p))
    except Exception:
        return None
def ref(d, key): return d["reference"][key]
rows = []
def row(name, value, target, how):
    rows.append((name, value, target, how))
def fmt(x, nd=2): return "n/a" if x is None else f"{x:.{nd}f}"

for db, pre in (("SQLite", "sq"), ("PostgreSQL", "pg")):
    a = j(pre + "-attest")
    if a and a.get("server_cpu_per_op_in_verifies"):
        row(f"attestation overhead, {db}", fmt(a["server_cpu_per_op_in_verifies"]), "<= 2.0",
            f"server CPU {a['server_cpu_per_op_us']:.0f} us per attestation / raw verify "
            f"{ref(a,'ecdsa_p256_verify_us'):.1f} us; {a['exchanges']} attestations, {a['errors']} errors; "
            f"p50 {a['latency']['p50_ms']:.1f} ms, p99 {a['latency']['p99_ms']:.1f} ms")
a = j("sq-attest-new")
if a and a.get("server_cpu_per_op_in_verifies"):
    row("attestation overhead, SQLite, new TLS connection each", fmt(a["server_cpu_per_op_in_verifies"]), "-",
        f"server CPU {a['server_cpu_per_op_us']:.0f} us (full mTLS handshake included)")
g = j("gr-attest")
if g:
    s, b = g["latency_by_server"][0], g["latency_by_server"][1]
    if s.get("count") and b.get("count"):
        row(f"registry growth, p50 ({gb} / {gs} registered)", fmt(b["p50_ms"] / s["p50_ms"]), "<= 1.2",
            f"p50 {b['p50_ms']:.2f} / {s['p50_ms']:.2f} ms, interleaved, {b['count']}+{s['count']} attestations, SQLite")
        row(f"registry growth, p99", fmt(b["p99_ms"] / s["p99_ms"]), "<= 1.2",
            f"p99 {b['p99_ms']:.2f} / {s['p99_ms']:.2f} ms")
        cs, cb = g["servers"][0]["cpu_s"], g["servers"][1]["cpu_s"]
        if cs and cs > 0:
            row("registry growth, server CPU per attestation", fmt(cb / cs), "-",
                f"{cb:.2f} s / {cs:.2f} s for the same attestations")
e = j("sq-enroll")
if e and e.get("server_cpu_per_op_us"):
    r = e["reference"]
    # The server's public-key operations in one enrollment: TLS 1.3 (X25519 keygen + derive, one
    # ECDSA P-256 sign for CertificateVerify), the token (one verify), the CSR's self-signature
    # (one verify), the certificate (one sign).
    raw = r["x25519_keygen_us"] + r["x25519_derive_us"] + 2 * r["ecdsa_p256_sign_us"] + 2 * r["ecdsa_p256_verify_us"]
    row("enrollment cost, SQLite", fmt(e["server_cpu_per_op_us"] / raw), "report",
        f"server CPU {e['server_cpu_per_op_us']:.0f} us / raw ops {raw:.0f} us (X25519 keygen+derive, 2 sign, 2 verify)")
ro = j("sq-rotate")
if ro and ro.get("server_cpu_per_op_us") and ro.get("rotations"):
    r = ro["reference"]
    # Per completed server-mode rotation: two token verifies (the attestation that offers the job,
    # the token of rotate/begin), the new key (keygen), the HPKE seal (ephemeral keygen + ECDH), the
    # instruction's signature, the receipt's verify; the attestation's and rotate/begin's TLS
    # handshakes with client certificates (2 x (X25519 keygen+derive, sign, verify of the client's
    # CertificateVerify and of its certificate)).
    raw = (3 * r["ecdsa_p256_verify_us"] + 2 * r["p256_keygen_us"] + r["ecdh_p256_us"] + r["ecdsa_p256_sign_us"]
           + 2 * (r["x25519_keygen_us"] + r["x25519_derive_us"] + r["ecdsa_p256_sign_us"] + 2 * r["ecdsa_p256_verify_us"]))
    row("rotation cost, SQLite (server mode)", fmt(ro["server_cpu_per_op_us"] / raw), "<= 3",
        f"server CPU {ro['server_cpu_per_op_us']:.0f} us per rotation / raw ops {raw:.0f} us; {ro['rotations']} rotations")
h = j("sq-hold")
if h and h.get("held"):
    s = h["servers"][0]
    per10k = (s["rss_kb_peak"] - s["rss_kb_before"]) / h["held"] * 10000 / 1024
    row("server memory per 10,000 connected devices", f"{per10k:.0f} MiB", "report",
        f"peak RSS {s['rss_kb_peak']/1024:.0f} MiB with {h['held']} connected (fds {s['fds_peak']}), "
        f"{s['rss_kb_before']/1024:.0f} MiB before; linear per 10,000")
ones = [j(f"pg-one-{i}") for i in (1, 2)]
twos = [j(f"pg-two-{i}") for i in (1, 2)]
if all(ones) and all(twos):
    t1 = statistics.median(x["throughput_per_s"] for x in ones)
    t2 = statistics.median(x["throughput_per_s"] for x in twos)
    row("scale-out: throughput, 2 servers / 1 (PostgreSQL)", fmt(t2 / t1), "report",
        f"{t2:.0f} / {t1:.0f} attestations/s (machine-dependent), interleaved 1-2-1-2, 2 cores shared by "
        f"the servers, PostgreSQL and the fleet")
for b in ("openssl", "bearssl"):
    a = j(f"apm-{b}")
    if a:
        row(f"APM token cost, {b}", fmt(a["token_over_sign"]), "<= 1.3", "GET_TOKEN in the APM core / raw ECDSA sign")
fb, fs = j("fill-big"), j("fill-small")
print(f"\n# drot server benchmarks: {n} devices, {k} attestations each, {w} fleet threads; "
      f"hold {hold}; growth {gs} vs {gb} ({gf} attesting); {elapsed} s")
if fb:
    print(f"# registry of {fb['registered']} filler devices registered in {fb['seconds']:.0f} s "
          f"(ds_device_register_bulk, 100000 per transaction, {fb['backend']})")
wn = max(len(r[0]) for r in rows) if rows else 10
print(f"{'figure':<{wn}} | {'value':>9} | {'target':>7} | how")
print("-" * wn + "-|-" + "-" * 9 + "-|-" + "-" * 7 + "-|-" + "-" * 40)
for r in rows:
    print(f"{r[0]:<{wn}} | {r[1]:>9} | {r[2]:>7} | {r[3]}")
EOF
