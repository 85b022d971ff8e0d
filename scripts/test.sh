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

step "cargo test (all features)"
cargo test --all-features --no-fail-fast
