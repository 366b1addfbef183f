#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 60), one after
# the other, on the stable toolchain: RUSTC_BOOTSTRAP=1 lets stable take the nightly
# sanitizer flags cargo-fuzz passes. The build keeps debug assertions (cargo-fuzz's
# default; not -O), so arithmetic overflow is a crash too. Stops at the first crash and
# prints the reproducer's path; otherwise prints runs and executions per second of
# every target. A target's dictionary (fuzz/dict/<target>.dict) and seeds
# (fuzz/seeds/<target>/) are used when they exist. FUZZ_TARGETS="a b" runs only those.
#   make fuzz                      # or: FUZZ_SECONDS=30 make fuzz
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
cargo=(cargo +stable)

if ! "${cargo[@]}" fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  "${cargo[@]}" install cargo-fuzz --locked
fi

read -r -a targets <<<"${FUZZ_TARGETS:-$("${cargo[@]}" fuzz list | tr '\n' ' ')}"
echo "== building ${#targets[@]} targets"
"${cargo[@]}" fuzz build

logs=target/logs
mkdir -p "$logs"
summary=()
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  args=(-max_total_time="$seconds" -print_final_stats=1)
  [[ -f "dict/$t.dict" ]] && args+=(-dict="dict/$t.dict")
  # Seeds (fuzz/seeds/<target>, committed) join the corpus that grows in fuzz/corpus.
  corpus=()
  [[ -d "seeds/$t" ]] && corpus=("corpus/$t" "seeds/$t") && mkdir -p "corpus/$t"
  echo "== $t: ${seconds} s (log: fuzz/$log)"
  if ! "${cargo[@]}" fuzz run "$t" "${corpus[@]}" -- "${args[@]}" >"$log" 2>&1; then
    echo "!! $t crashed or failed; the end of its log:"
    tail -n 40 "$log"
    unit=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | cut -d' ' -f5)
    if [[ -n "$unit" ]]; then
      echo "!! reproducer: $unit"
      echo "!! reproduce: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo +stable fuzz run $t $unit)"
    fi
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  summary+=("$(printf '%-20s %12s runs %9s exec/s' "$t" "$runs" "$rate")")
  echo "   ${summary[-1]}"
done
echo "== no crash in ${#targets[@]} targets, ${seconds} s each:"
printf '   %s\n' "${summary[@]}"
