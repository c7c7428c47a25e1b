#!/usr/bin/env bash
# Times the whole default evaluation (every policy x seeds 42-51) and prints the table.
# Usage: bench/sim/full_evaluation.sh [build-dir] [extra flexai-sim args]
set -euo pipefail
build=${1:-build}
shift || true
start=$(date +%s.%N)
"$build/bin/flexai-sim" --policy all --seeds 42-51 "$@"
end=$(date +%s.%N)
printf 'whole evaluation (all policies x 10 seeds, %s threads): %.1f s\n' "$(nproc)" "$(python3 -c "print($end - $start)")"
