#!/usr/bin/env bash
# The one test command (README, .ci/run; docs/testing.md says what each step proves): installs
# what is missing (scripts/bootstrap.sh test), checks formatting, lints (that template.yaml and
# the watch router are current is xtask's test, in the workspace's tests), lints the templates,
# the GitHub workflows, the shell scripts, the docs' links, openapi.yaml and the dependencies
# (cargo deny), then runs every test against its
# own DynamoDB Local on a free port: unit and integration tests (handlers in-process),
# end-to-end tests over HTTP through `cargo lambda watch`, the walkthrough's and the
# playbooks' steps, the web front end in headless Chromium (sign-in through a local OIDC
# provider, the console, the admin dashboard, the storefront widget, axe and the budgets), a
# generated client, Schemathesis, the IAM check of every DynamoDB call those made, and the
# packaging test (an arm64 function built by `sam build`, run under qemu against a Lambda
# Runtime API stub). The packaging test's build, the longest step, runs from
# the start at the lowest CPU priority, so it takes only the CPU the other steps leave idle.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh" test

PACKAGE_BUILD_PID=""
stop_all() {
  if [ -n "$PACKAGE_BUILD_PID" ]; then kill_tree "$PACKAGE_BUILD_PID"; fi
  stop_services
}
trap stop_all EXIT

PACKAGE_BUILD_LOG="${TMPDIR:-/tmp}/gharart-package-build-$$.log"
log "packaging, part 1: sam build for arm64 in the background, niced (log: $PACKAGE_BUILD_LOG)"
# In this session, not one of its own: with the kernel's autogroup scheduling (Debian's
# default), a session is a CPU group that competes with the others as an equal, whatever the
# nice value of its processes; within this one, nice 19 yields to the tests.
# The quick build (no optimisation, no LTO): the deploy workflow holds the optimised build it
# ships to the size budget (docs/decisions/0008-quick-packaging-build-in-tests.md).
PACKAGE_BUILD=quick nice -n 19 bash scripts/package-test.sh build >"$PACKAGE_BUILD_LOG" 2>&1 &
PACKAGE_BUILD_PID=$!

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet --locked -- -D warnings
log "template.yaml (cfn-lint, sam validate --lint)"
bash scripts/check-template.sh
log "GitHub workflows (check-jsonschema, zizmor --offline)"
bash scripts/check-workflows.sh
log "docs and scripts (README length, relative links, bash -n, shellcheck)"
bash scripts/check-docs.sh
log "openapi.yaml (Redocly CLI, recommended rules as errors)"
bash scripts/check-openapi.sh
log "dependencies (cargo deny: advisories, licences, bans, sources)"
bash scripts/check-deps.sh

DYNAMODB_PORT=$(free_port)
log "DynamoDB Local on port $DYNAMODB_PORT (in memory)"
start_dynamodb_local "$DYNAMODB_PORT"
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT"

# Every DynamoDB request a function makes from here on is recorded, for the IAM check.
export DYNAMODB_CALL_LOG="${TMPDIR:-/tmp}/gharart-dynamodb-calls-$DYNAMODB_PORT.jsonl"
: >"$DYNAMODB_CALL_LOG"

log "unit and integration tests"
# Every later cargo call here names --workspace (never -p): cargo resolves features over the
# packages it builds, so `-p` would build the dependencies a second time with another set.
cargo test --workspace --locked

log "secrets from Secrets Manager (moto's server)"
MOTO_SERVER="$TOOLS/moto/bin/moto_server" \
  cargo test --locked --workspace --test api -- --ignored secrets::

log "end-to-end tests through cargo lambda watch"
export TABLE_NAME="e2e-$(date +%s)"
# What `cargo lambda watch` runs: the workspace's binaries, built with its features unified.
cargo build --quiet --locked --workspace --bins
target/debug/gharart-operator --local create-table
# Revocation must show within the cache delay; keep it short so the test can wait it out.
export PAT_CACHE_SECONDS=2
# The deployed schedule's work every few seconds, as scripts/dev.sh runs it every minute: an
# end-to-end test waits for a passed deadline to close by itself.
export LOCAL_SCHEDULE_SECONDS=2
start_schedule "${TMPDIR:-/tmp}/gharart-schedule-$DYNAMODB_PORT.log"
export OPERATOR_BIN="$ROOT/target/debug/gharart-operator"
API_PORT=$(free_port)
API_LOG="${TMPDIR:-/tmp}/gharart-api-$API_PORT.log"
start_api "$API_PORT" "$API_LOG" || { tail -n 50 "$API_LOG"; exit 1; }
if ! E2E_BASE_URL="http://127.0.0.1:$API_PORT" cargo test --locked --workspace --test e2e -- --ignored; then
  log "end-to-end tests failed; the API log follows"
  tail -n 100 "$API_LOG"
  exit 1
fi

log "the origin lock over HTTP: the functions behind cargo lambda watch with ORIGIN_SECRETS"
kill -- "-$API_PID" 2>/dev/null || true
ORIGIN_SECRET="origin-secret-of-the-test-command-$(date +%s)"
LOCKED_PORT=$(free_port)
LOCKED_LOG="${TMPDIR:-/tmp}/gharart-api-$LOCKED_PORT.log"
ORIGIN_SECRETS=$ORIGIN_SECRET start_api "$LOCKED_PORT" "$LOCKED_LOG" || { tail -n 50 "$LOCKED_LOG"; exit 1; }
if ! E2E_BASE_URL="http://127.0.0.1:$LOCKED_PORT" E2E_ORIGIN_SECRET="$ORIGIN_SECRET" \
  cargo test --locked --workspace --test e2e -- --ignored the_origin_lock_over_http; then
  tail -n 50 "$LOCKED_LOG"
  exit 1
fi
kill -- "-$API_PID" 2>/dev/null || true

log "walkthrough: every step of docs/walkthrough.md, against a fresh stack"
bash scripts/playbooks.sh docs/walkthrough.md

log "playbooks: the API steps of docs/playbooks/*.md"
bash scripts/playbooks.sh

log "web front end: console, admin dashboard and widget in headless Chromium, axe, budgets (scripts/web-test.sh)"
bash scripts/web-test.sh

log "openapi.yaml through a generated client (openapi-python-client, the owner lifecycle and the public half)"
bash scripts/generated-client.sh

log "openapi.yaml fuzzed by Schemathesis against the functions under cargo lambda watch"
bash scripts/schemathesis.sh

log "IAM: every recorded DynamoDB call against its function's policy in template.yaml"
cargo test --locked --workspace --test iam -- --ignored

log "packaging, part 2: waiting for the arm64 build"
if ! wait "$PACKAGE_BUILD_PID"; then
  PACKAGE_BUILD_PID=""
  log "the arm64 build failed; its log follows"
  tail -n 100 "$PACKAGE_BUILD_LOG"
  exit 1
fi
PACKAGE_BUILD_PID=""
grep 'sam build .* took' "$PACKAGE_BUILD_LOG" >&2 || true
log "packaging: every function's size, one run under qemu-aarch64"
bash scripts/package-test.sh check
