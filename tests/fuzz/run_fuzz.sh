#!/bin/sh
# Builds and runs the libFuzzer targets (clang, apart from the gcc build).
#
#   run_fuzz.sh --build            compile every target (objects are cached)
#   run_fuzz.sh TARGET SECONDS     decode | smtp | policy | sensor | dns | mail_login | spool
#
# A run first replays tests/fuzz/regressions/TARGET/* (inputs that once crashed), then
# writes fresh seeds from the captures and policies and fuzzes for SECONDS. New inputs that
# add coverage are kept in OUT/corpus/TARGET and read again next time; a crash, leak or
# hang leaves its input in OUT/crashes/TARGET/ and fails the run.
#
# Environment: OP25B_FUZZ_DIR (OUT, default build/fuzz), OP25B_FUZZ_CC (default clang),
# OP25B_CORPUS_DIR (the third-party captures, default tests/corpus), PYTHON (default python3),
# OP25B_FUZZ_OPTIONS (more libFuzzer flags, e.g. "-jobs=4 -workers=4").
# Exit status: 0 clean, 1 a finding or a build failure, 77 clang is missing (skipped).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
corpus_dir=${OP25B_CORPUS_DIR:-$source_dir/tests/corpus}
out=${OP25B_FUZZ_DIR:-$source_dir/build/fuzz}
cc=${OP25B_FUZZ_CC:-clang}
python=${PYTHON:-python3}
targets="decode smtp policy sensor dns mail_login spool"

usage() {
    echo "usage: run_fuzz.sh --build | TARGET SECONDS   (TARGET: $targets)" >&2
    exit 1
}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run_fuzz: $cc not found: install clang and libclang-rt-14-dev (.ci/install-deps)"
    exit 77
fi

# One make at a time per build tree: the ctest runs may start together.
build() {
    mkdir -p "$out"
    jobs=$(nproc 2>/dev/null || echo 2)
    set -- make --no-print-directory -f "$here/fuzz.mk" -j"$jobs" SOURCE_DIR="$source_dir" \
        OUT="$out" FUZZ_CC="$cc" "$@"
    if command -v flock >/dev/null 2>&1; then
        flock "$out/.lock" "$@"
    else
        "$@"
    fi
}

if [ "$#" -eq 1 ] && [ "$1" = "--build" ]; then
    build all
    exit 0
fi
[ "$#" -eq 2 ] || usage
target=$1
seconds=$2
case " $targets " in *" $target "*) ;; *) usage ;; esac
case "$seconds" in '' | *[!0-9]*) usage ;; esac

binary="$out/fuzz_$target"
build "$binary"

# UBSan findings stop the run (-fno-sanitize-recover) with the stack that caused them.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS

regressions="$here/regressions/$target"
count=0
[ -d "$regressions" ] && count=$(find "$regressions" -type f | wc -l)
if [ "$count" -gt 0 ]; then
    echo "run_fuzz: replaying $count regression input(s) from $regressions"
    # libFuzzer runs each file named on its command line once.
    if ! "$binary" "$regressions"/* >"$out/$target-regressions.log" 2>&1; then
        cat "$out/$target-regressions.log"
        echo "run_fuzz: FAILED: a regression input of $target crashes again (log above)"
        exit 1
    fi
fi

seeds="$out/seeds/$target"
rm -rf "$seeds"
"$python" "$here/make_seeds.py" --source-dir "$source_dir" --corpus-dir "$corpus_dir" \
    --out "$out/seeds" --target "$target"
corpus="$out/corpus/$target"
crashes="$out/crashes/$target"
mkdir -p "$corpus" "$crashes"
dictionary=""
[ -f "$here/$target.dict" ] && dictionary="-dict=$here/$target.dict"

log="$out/$target.log"
marker="$out/.$target.started"
: >"$marker"
echo "run_fuzz: fuzzing $target for $seconds s (log: $log)"
status=0
# shellcheck disable=SC2086 # the option lists are meant to split
"$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" $dictionary ${OP25B_FUZZ_OPTIONS:-} \
    "$corpus" "$seeds" >"$log" 2>&1 || status=$?

grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done |^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "$log" || true
grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 # the last progress line of -fork=N runs
findings=$({
    find "$crashes" -type f -newer "$marker"
    sed -n 's/.*Test unit written to //p' "$log"
} | sort -u)
if [ "$status" -ne 0 ] || [ -n "$findings" ]; then
    tail -n 80 "$log"
    echo "run_fuzz: FAILED: fuzz_$target found a problem (exit status $status)"
    for input in $findings; do
        echo "run_fuzz: crash input: $input"
        echo "run_fuzz:   reproduce: $binary $input"
        echo "run_fuzz:   once fixed, keep it: cp $input $regressions/"
    done
    exit 1
fi
echo "run_fuzz: fuzz_$target: no findings"
