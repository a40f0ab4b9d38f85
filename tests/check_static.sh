#!/usr/bin/env bash
# check_static.sh LIB.a... — the firmware rule, checked on built objects:
# the libraries that link into the APM firmware (common/ and the BearSSL
# backend) reference no allocator and no OS function, and reach libcbor only
# through its allocation-free encoders and streaming decoder; and they define
# no test-only entry point (drot_*_test_*, e.g. the HPKE hooks that reveal
# a KEM shared secret).
#
# Reads each archive's undefined symbols with nm; fails naming every offender.
set -euo pipefail

forbidden='^(malloc|calloc|realloc|free|reallocarray|aligned_alloc|posix_memalign|memalign|valloc|strdup|strndup|open|close|read|write|fopen|fclose|fread|fwrite|printf|fprintf|puts|getrandom|time|clock_gettime|exit|abort|pthread_.*|mmap|munmap)$'
cbor_allowed='^cbor_(encode_(uint|negint|bytestring_start|string_start|array_start|map_start|tag|bool|null)|stream_decode)$'

status=0
for lib in "$@"; do
  if [ ! -f "$lib" ]; then
    echo "check_static: $lib: no such library (build it first)" >&2
    exit 2
  fi
  undef=$(nm -u --format=just-symbols "$lib" 2>/dev/null | sort -u)
  bad=$(printf '%s\n' "$undef" | grep -E "$forbidden" || true)
  cbor=$(printf '%s\n' "$undef" | grep -E '^cbor_' | grep -Ev "$cbor_allowed" || true)
  hooks=$(nm --defined-only --format=just-symbols "$lib" 2>/dev/null | grep -E '^drot_[a-z0-9_]*_test_' || true)
  if [ -n "$hooks" ]; then
    echo "FAIL: $(basename "$lib") defines test-only functions: $(echo $hooks)" >&2
    status=1
  fi
  if [ -n "$bad" ]; then
    echo "FAIL: $(basename "$lib") references allocator/OS symbols: $(echo $bad)" >&2
    status=1
  fi
  if [ -n "$cbor" ]; then
    echo "FAIL: $(basename "$lib") uses libcbor functions outside the allocation-free set: $(echo $cbor)" >&2
    status=1
  fi
  n=$(printf '%s\n' "$undef" | grep -c . || true)
  echo "$(basename "$lib"): $n undefined symbols, none forbidden" >&2
done
[ $status -eq 0 ] && echo "check_static: PASS ($# libraries)"
exit $status
