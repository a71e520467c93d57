#!/usr/bin/env bash
# Instructions per call of the store, by thread, for N small calls
# f(1, "two", [3]) submitted as the capture stage does (bench/cpp/driver):
# callgrind runs the driver for N1 and N2 calls; (Ir(N2) - Ir(N1)) / (N2 - N1)
# per thread removes the fixed costs (open, first commit, close).
#   bash bench/callgrind_writer.sh [N1] [N2] [driver options, e.g. --payload 8388608]
# Builds build/rel (RelWithDebInfo, no tests) when needed. Deterministic to ~1 %.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${1:-100000}
N2=${2:-300000}
shift $(( $# < 2 ? $# : 2 ))
if [ ! -x build/rel/callmonitor-writer-driver ]; then
  cmake -S . -B build/rel -DCALLMONITOR_PYTHON=OFF -DCALLMONITOR_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/rel -j2 --target callmonitor-writer-driver >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Prints "thread-index total-Ir" per thread of one run.
run() {
  (cd "$work" && rm -rf cg.out* db &&
   valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=cg.out \
     "$OLDPWD/build/rel/callmonitor-writer-driver" "$1" db "${@:2}" >/dev/null 2>&1)
  for f in "$work"/cg.out-*; do
    printf '%s %s\n' "$((10#${f##*-}))" "$(awk '/^(summary|totals):/ {print $2; exit}' "$f")"
  done | sort -n
}
declare -A a b
while read -r t ir; do a[$t]=$ir; done < <(run "$N1" "$@")
while read -r t ir; do b[$t]=$ir; done < <(run "$N2" "$@")
printf '%-22s %14s %14s %10s\n' thread "Ir($N1)" "Ir($N2)" "Ir/call"
for t in $(printf '%s\n' "${!b[@]}" | sort -n); do
  name=$([ "$t" = 1 ] && echo "caller (main)" || { [ "$t" = 2 ] && echo "writer" || echo "thread $t"; })
  per=$(awk -v x="${a[$t]:-0}" -v y="${b[$t]}" -v n="$((N2 - N1))" 'BEGIN {printf "%.0f", (y - x) / n}')
  printf '%-22s %14s %14s %10s\n' "$name" "${a[$t]:-0}" "${b[$t]}" "$per"
done
