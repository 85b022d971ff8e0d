#!/usr/bin/env bash
# The whole test suite, as the README's second command and CI run it:
# formatting, lints, docs, then every test with every feature.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:--D warnings}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, -D warnings)"
cargo clippy --all-targets --all-features -- -D warnings

step "cargo doc (all features, warnings are errors)"
cargo doc --no-deps --all-features

# Real object-store servers on 127.0.0.1 (moto, s3s-fs, Azurite,
# fake-gcs-server) for the tests: installed once into
# ${SEERSTORE_CACHE:-~/.cache/seerstore-test}, stopped on any exit.
# SEERSTORE_SKIP_TEST_SERVERS=1 skips them (the server tests then skip).
if [[ "${SEERSTORE_SKIP_TEST_SERVERS:-0}" != 1 ]]; then
    step "test servers (moto, s3s-fs, Azurite, fake-gcs-server)"
    source scripts/servers.sh
    servers_trap
    servers_install
    servers_start
fi

step "cargo test (all features)"
cargo test --all-features --no-fail-fast
