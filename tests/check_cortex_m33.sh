#!/usr/bin/env bash
# check_cortex_m33.sh SRC_DIR OUT_DIR — the firmware-bound sources (common/,
# the BearSSL backend and the APM core fw/src) compile for a Cortex-M33 with arm-none-eabi-gcc,
# freestanding, with the project's warnings as errors. Compile only: the
# image and the QEMU run come with the mps2-an505 port.
#
# Only libcbor's and BearSSL's headers are made visible (through a private
# include folder), never the host's /usr/include, so a stray OS header in
# common/ fails here. Prints the code size of each object.
set -euo pipefail
src=${1:?source dir}
out=${2:?output dir}
cc=arm-none-eabi-gcc
if ! command -v $cc >/dev/null; then
  echo "check_cortex_m33: $cc not found; run scripts/deps.sh (package gcc-arm-none-eabi)" >&2
  exit 1
fi
rm -rf "$out" && mkdir -p "$out/inc" "$out/obj"
ln -s /usr/include/cbor "$out/inc/cbor"
ln -s /usr/include/bearssl "$out/inc/bearssl" 2>/dev/null || true
for h in /usr/include/bearssl*.h; do ln -sf "$h" "$out/inc/"; done

flags=(-mcpu=cortex-m33 -mthumb -ffreestanding -std=c11 -Os -Wall -Wextra -Werror -Wshadow -Wvla
       -Wstrict-prototypes -Wmissing-prototypes -Wstack-usage=4096
       -I"$src/common/include" -I"$src/crypto/include" -I"$src/crypto/shared"
       -I"$src/fw/include" -I"$src/fw/hal" -I"$src/fw/src" -isystem "$out/inc")
status=0
for f in "$src"/common/src/*.c "$src"/crypto/bearssl/*.c "$src"/crypto/shared/*.c "$src"/fw/src/*.c; do
  o="$out/obj/$(basename "${f%.c}").o"
  if ! $cc "${flags[@]}" -DDROT_CRYPTO_BACKEND_BEARSSL=1 -c "$f" -o "$o"; then
    echo "FAIL: $f does not compile for Cortex-M33" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit 1
arm-none-eabi-size "$out"/obj/*.o
echo "check_cortex_m33: PASS ($(ls "$out"/obj/*.o | wc -l) objects)"
