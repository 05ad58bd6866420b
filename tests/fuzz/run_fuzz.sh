#!/usr/bin/env bash
# run_fuzz.sh — how ctest runs a libFuzzer target (see CMakeLists.txt here).
#
#   run_fuzz.sh fuzz BIN SEEDS WORK [libFuzzer flags...]
#       Copies the seed corpus SEEDS into WORK/corpus (emptied first: every run starts
#       from the committed seeds, and the source tree is never written), then fuzzes it
#       with the flags given. Inputs that crash, leak or time out are saved in
#       WORK/artifacts/ and the test fails.
#   run_fuzz.sh replay BIN DIR...
#       Runs every file of each DIR once, without fuzzing, each in its own process; a DIR
#       that does not exist is skipped. Fails when any input crashes, leaks or trips a
#       sanitizer, and lists them all.
set -euo pipefail

usage() {
    echo "usage: $0 fuzz BIN SEEDS WORK [flags...] | $0 replay BIN DIR..." >&2
    exit 64
}
[ $# -ge 2 ] || usage
mode=$1 bin=$2
shift 2
name=$(basename "$bin")
name=${name#fuzz_}

case $mode in
fuzz)
    [ $# -ge 2 ] || usage
    seeds=$1 work=$2
    shift 2
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp -R "$seeds/." "$work/corpus/"
    status=0
    "$bin" -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "run_fuzz.sh: fuzz_$name failed (exit $status); the inputs it saved:" >&2
        ls -l "$work/artifacts" >&2
        echo "run_fuzz.sh: reproduce with: $bin <input>; once understood, keep the input as a" \
             "regression: cp <input> tests/fuzz/regressions/$name/<what-broke>" >&2
    fi
    exit "$status"
    ;;
replay)
    inputs=()
    for dir in "$@"; do
        [ -d "$dir" ] || continue
        while IFS= read -r -d '' f; do
            inputs+=("$f")
        done < <(find "$dir" -type f ! -name '.*' -print0 | sort -z)
    done
    if [ ${#inputs[@]} -eq 0 ]; then
        echo "run_fuzz.sh: no inputs to replay for fuzz_$name"
        exit 0
    fi
    # One process per input, so that every failing input is reported, not only the first.
    failed=()
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    for f in "${inputs[@]}"; do
        if ! "$bin" "$f" >"$log" 2>&1; then
            failed+=("$f")
            echo "---- $f"
            grep -v -e '^INFO: ' -e '^\*\*\*' "$log" | head -40
        fi
    done
    echo "run_fuzz.sh: fuzz_$name replayed ${#inputs[@]} inputs, ${#failed[@]} failed"
    for f in "${failed[@]}"; do
        echo "  FAILED $f"
    done
    [ ${#failed[@]} -eq 0 ]
    ;;
*)
    usage
    ;;
esac
