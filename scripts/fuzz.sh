#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — run every libFuzzer target for SECONDS (default 60).
#
# Configures build-fuzz with clang and -DDROT_FUZZ=ON, builds the fuzz
# targets and the seed generator, generates the seed corpora, then runs each
# target on a fresh copy of its seeds with -max_len=16384. Prints executions,
# coverage and corpus size per target; exits non-zero if any target found a
# crash, a sanitizer error or a property violation (the input is kept in
# build-fuzz/fuzz-run/<target>/artifacts/). See docs/fuzzing.md.
#
# Environment: DROT_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# DROT_VECTORS_DIR (default <repo>/../shared/vectors; COSE WG seeds),
# DROT_FUZZ_TARGETS (default "cbor cose eat hpke link link_fw rotate revocation"), DROT_FUZZ_JOBS (build jobs).
set -euo pipefail

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: $0 [SECONDS]   (seconds per target, default 60)" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DROT_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${DROT_FUZZ_TARGETS:-cbor cose eat hpke link link_fw rotate revocation}
jobs=${DROT_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 4)}
export DROT_VECTORS_DIR=${DROT_VECTORS_DIR:-$root/../shared/vectors}

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is required (libFuzzer); run scripts/deps.sh or apt-get install clang" >&2
  exit 2
fi

mkdir -p "$build"
echo "== configure $build (clang, DROT_FUZZ=ON)"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DDROT_FUZZ=ON >"$build/fuzz-configure.log" 2>&1 ||
  { cat "$build/fuzz-configure.log" >&2; exit 1; }
build_targets=(drot-fuzz-seeds)
for t in $targets; do build_targets+=("drot-fuzz-$t"); done
echo "== build ${build_targets[*]}"
cmake --build "$build" -j "$jobs" --target "${build_targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { tail -50 "$build/fuzz-build.log" >&2; exit 1; }

echo "== seeds"
"$build/tests/fuzz/drot-fuzz-seeds" "$build/fuzz-corpus"

run="$build/fuzz-run"
summary=()
failed=0
for t in $targets; do
  dir="$run/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$build/fuzz-corpus/$t/"* "$dir/corpus/"
  seeds=$(find "$dir/corpus" -type f | wc -l)
  echo "== fuzz $t: $secs s, $seeds seeds"
  rc=0
  "$build/tests/fuzz/drot-fuzz-$t" -max_len=16384 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  status=ok
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status="FAILED (exit $rc, $crashes artifact(s) in $dir/artifacts)"
    failed=1
    echo "---- $t: last lines of $dir/log" >&2
    tail -40 "$dir/log" >&2
  fi
  summary+=("$(printf '%-6s execs %-10s cov %-6s ft %-6s corpus %-12s %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")")
done

echo "== summary ($secs s per target, $(date -u +%Y-%m-%dT%H:%MZ), $(clang --version | head -1))"
printf '%s\n' "${summary[@]}"
exit "$failed"
