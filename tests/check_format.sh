#!/usr/bin/env bash
# check_format.sh SRC_DIR — every tracked C file is formatted as .clang-format
# says (STYLE.md habit 10). Fix with `make format`.
set -euo pipefail
cd "${1:?source dir}"
if ! command -v clang-format >/dev/null; then
  echo "check_format: clang-format not found; run scripts/deps.sh" >&2
  exit 1
fi
if [ ! -d .git ] && ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "check_format: not a git checkout; nothing to check" >&2
  exit 1
fi
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h')
if [ ${#bad[@]} -ne 0 ]; then
  echo "FAIL: not formatted (run 'make format'): ${bad[*]}" >&2
  exit 1
fi
echo "check_format: PASS ($(git ls-files '*.c' '*.h' | wc -l) files)"
