#!/usr/bin/env bash
# Instructions per packet, counted by callgrind: each run at two packet counts, the
# difference of the totals divided by the difference of the counts. Unlike time, the figure
# does not move with the machine's load.
#   bench/instructions.sh            chain with 1 and 10 Counters; trampoline graph vs direct;
#                                    plugin elements vs the same elements built in
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)"; exit 1; }
cargo build --release -q -p sluice-bench
bin=target/release/sluice-bench
lo=100000
hi=1100000
total() { # KIND N PACKETS -> total instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" once "$1" "$2" "$3" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_packet() { # KIND N
  local a b
  a=$(total "$1" "$2" $lo)
  b=$(total "$1" "$2" $hi)
  echo "scale=2; ($b - $a) / ($hi - $lo)" | bc
}
for n in 1 10; do
  echo "chain $n Counters: $(per_packet chain $n) instructions/packet"
done
for n in 10 20; do
  g=$(per_packet graph $n)
  d=$(per_packet direct $n)
  echo "trampoline $n hops: graph $g, direct $d instructions/packet, overhead $(echo "scale=2; ($g - $d) * 100 / $d" | bc) %"
done
for e in "0 TokenBucket (Rust)" "1 CPaint (C)"; do
  set -- $e
  p=$(per_packet plugin-plugin "$1")
  b=$(per_packet plugin-builtin "$1")
  shift
  echo "plugin $*: plugin $p, built-in $b instructions/packet, overhead $(echo "scale=2; $p - $b" | bc)"
done
