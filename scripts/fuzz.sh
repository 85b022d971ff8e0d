#!/usr/bin/env bash
# Fuzzes key validation and storage-URL parsing for a fixed time (not in CI):
#   bash scripts/fuzz.sh [seconds]        (default 60)
# Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer); installs
# cargo-fuzz into ${SEERSTORE_CACHE:-~/.cache/seerstore-test} if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
cache="${SEERSTORE_CACHE:-$HOME/.cache/seerstore-test}"
cargo_fuzz_version="0.13.1"
export PATH="$cache/bin:$PATH"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly toolchain; install one with: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked --root "$cache" cargo-fuzz --version "$cargo_fuzz_version"
fi

cd fuzz
mkdir -p corpus/path_and_url
# A few seeds so the fuzzer starts from the interesting shapes.
printf 'L0/000123.sst' >corpus/path_and_url/key
printf '../etc/passwd' >corpus/path_and_url/traversal
printf 's3://user:hunter2@bucket/p?region=x' >corpus/path_and_url/creds
printf 'memory:///a%%2F..%%2Fb?max_retries=1' >corpus/path_and_url/memory
cargo +nightly fuzz run path_and_url corpus/path_and_url -- \
    -max_total_time="$seconds" -max_len=2048 -print_final_stats=1
