#!/usr/bin/env bash
# The fuzz campaign: every target (or those named) in turn, one job, at the lowest CPU
# priority, SECS seconds each (default 600). Corpora grow in corpus/<target>, crashes land in
# artifacts/<target>, logs in artifacts/campaign-logs; prints one README table row per target.
#
#   fuzz/campaign.sh [SECS] [TARGET...]
#
# The targets are those of fuzz/Cargo.toml (cargo fuzz list), e.g. vnl, vde_ctl_request,
# nl_request, iothconf, dhcp4_message, router_advert, dhcp6_message, dns_server_request.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
# fuzz/ has its own Cargo.lock: the campaign runs what it pins.
cargo metadata --locked --format-version 1 > /dev/null
RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz build > /dev/null 2>&1
host=$(rustc -vV | sed -n 's/^host: //p')
bin=${CARGO_TARGET_DIR:-target}/$host/release
logs=artifacts/campaign-logs
mkdir -p "$logs"
day=$(date -u +%Y-%m-%d)
echo "| target | minutes | executions | corpus size | crashes found / fixed | date |"
echo "| --- | --- | --- | --- | --- | --- |"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    dict=()
    if [ -f "$t.dict" ]; then dict=("-dict=$t.dict"); fi
    before=$(find "artifacts/$t" -type f | wc -l)
    start=$(date +%s)
    execs=0
    run=0
    # A crash ends a libFuzzer run: start again on the grown corpus until the time is used.
    while remaining=$((secs - ($(date +%s) - start))); [ "$remaining" -gt 5 ]; do
        run=$((run + 1))
        nice -n 19 "$bin/$t" "corpus/$t" -jobs=1 -max_total_time="$remaining" \
            -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${dict[@]}" \
            > /dev/null 2>&1 || true
        log="$logs/$t-$run.log"
        mv fuzz-0.log "$log" 2> /dev/null || : > "$log"
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        if [ -z "$n" ]; then
            n=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
        fi
        execs=$((execs + ${n:-0}))
    done
    minutes=$(( ($(date +%s) - start + 30) / 60 ))
    found=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
    size=$(find "corpus/$t" -type f | wc -l)
    echo "| $t | $minutes | $execs | $size | $found | $day |"
done
