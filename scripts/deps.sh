#!/usr/bin/env bash
# Installs every Debian 12 package that drot's build, tests and demo need.
# Idempotent: prints nothing and exits 0 when all are present. As root it
# uses apt-get; otherwise it names the missing packages and the command to run.
#
#   scripts/deps.sh          build, tests, demo (what make test / make demo need)
#   scripts/deps.sh fuzz     also clang and libFuzzer (scripts/fuzz.sh)
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates clang-format curl python3
  libssl-dev openssl libbearssl-dev libcbor-dev libcmocka-dev libjansson-dev
  libevent-dev libcurl4-openssl-dev libsqlite3-dev sqlite3 libpq-dev
  postgresql postgresql-client
  gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
)
for group in "$@"; do
  case "$group" in
    fuzz) PKGS+=(clang libclang-rt-14-dev) ;;
    *) echo "deps: unknown group '$group' (known: fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} package(s)" >&2
