#!/usr/bin/env bash
# Packaging test: builds one function as a deploy does (`sam build` of template.yaml,
# BuildMethod rust-cargolambda: `cargo lambda build --release --arm64 --bin <Binary>`, which
# `[workspace.metadata.lambda.build]` in Cargo.toml turns into a build of every function's
# binary), checks the artifact is the arm64 `bootstrap` that provided.al2023 runs and every
# function's binary the same, then runs that very binary under qemu-aarch64 against a local
# Lambda Runtime API (tools/runtime-api-stub/stub.py) with API Gateway HTTP API (payload 2.0)
# events and DynamoDB Local, and asserts the responses (tools/package-test/create_group_buy.py).
#
#   scripts/package-test.sh              # both phases, the release profile, the size budget
#   scripts/package-test.sh build        # only the sam build (scripts/test.sh runs it niced, in
#                                        # the background, while the other tests run)
#   scripts/package-test.sh check        # only the checks and the run under qemu, of that build
#   scripts/package-test.sh budget DIR   # every function of a sam build dir (.aws-sam/build)
#                                        # within the size budget: the deploy workflow's check
#
# PACKAGE_BUILD=quick (scripts/test.sh) builds the release profile without its optimisations
# (opt-level 0, no LTO, 16 codegen units: CARGO_PROFILE_RELEASE_* variables): the same sam
# build, target, linker, glibc floor and runtime protocol, in a quarter of the CPU of the 23
# fat-LTO links, and no size budget, which only the optimised build can answer; the deploy
# workflow holds the artifacts it ships to it (`budget`), and docs/decisions/0008 says why.
#
# Measured on the 2-core machine from a cold target/: the quick build 5.4 CPU-minutes (164 s),
# the release profile without LTO 13, with its fat LTO some 20; seconds when nothing changed.
#
# The build lands in target/package-test/ (not .aws-sam/, which a real `sam build` owns), with
# cargo's own cache in target/package-test/cargo rather than target/: cargo locks a target
# directory for a whole build, so the test command's other cargo calls would wait for this one.
# Exits non-zero on any failure, with the function's output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PHASE=${1:-all}
case "$PHASE" in all | build | check | budget) ;; *)
  echo "usage: $0 [build|check|budget DIR]" >&2
  exit 2
  ;;
esac
FUNCTION=CreateGroupBuyFunction
WORK="$ROOT/target/package-test"
export CARGO_TARGET_DIR="$WORK/cargo"
BUILD_DIR="$WORK/sam-build"
RUN_DIR="$WORK/run"
# Size budget per function (docs/operations/packaging.md): each zip at most 2.5 MB, as sam deploy uploads
# it. Measured: bootstraps 3.36 to 4.34 MiB, zips 1.73 to 2.17 MiB (each binary links its own
# route only). Lambda's own limits (50 MB zipped, 250 MB unzipped) are far off; the budget is
# there so that a heavy new dependency, which every function and its cold start pay for, is a
# decision rather than an accident.
MAX_BOOTSTRAP_BYTES=$((5 * 1024 * 1024))
MAX_ZIP_BYTES=2500000
# provided.al2023 has glibc 2.34: a binary needing a newer GLIBC_x.y symbol does not start.
MAX_GLIBC=2.34
# Lambda's own limits, all an unoptimised build is held to.
LAMBDA_MAX_UNZIPPED_BYTES=250000000
LAMBDA_MAX_ZIP_BYTES=50000000

# --- the size budget of a sam build dir (the deploy workflow's check; python3 only) -------------
if [ "$PHASE" = budget ]; then
  dir=${2:?usage: $0 budget DIR}
  found=0
  for function_dir in "$dir"/*/; do
    [ -e "$function_dir/bootstrap" ] || continue
    found=$((found + 1))
    printf '%s: ' "$(basename "$function_dir")"
    python3 "$ROOT/tools/package-test/artifact.py" "$function_dir" \
      --max-bootstrap-bytes "$MAX_BOOTSTRAP_BYTES" --max-zip-bytes "$MAX_ZIP_BYTES" \
      --max-glibc "$MAX_GLIBC"
  done
  [ "$found" -gt 0 ] || { log "no function's bootstrap under $dir"; exit 1; }
  log "$found functions within the size budget"
  exit 0
fi

# quick (the test command) or release; `check` reads what `build` made.
BUILD_KIND_FILE="$WORK/build-kind"
if [ "$PHASE" = check ]; then
  BUILD_KIND=$(cat "$BUILD_KIND_FILE" 2>/dev/null || echo release)
else
  BUILD_KIND=${PACKAGE_BUILD:-release}
fi
case "$BUILD_KIND" in
  quick)
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
    BUDGET=(--max-bootstrap-bytes "$LAMBDA_MAX_UNZIPPED_BYTES" --max-zip-bytes "$LAMBDA_MAX_ZIP_BYTES")
    ;;
  release) BUDGET=(--max-bootstrap-bytes "$MAX_BOOTSTRAP_BYTES" --max-zip-bytes "$MAX_ZIP_BYTES") ;;
  *)
    echo "PACKAGE_BUILD must be quick or release, not $BUILD_KIND" >&2
    exit 2
    ;;
esac

missing=()
for tool in sam cargo-lambda qemu-aarch64 java; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
  log "missing ${missing[*]}: running scripts/bootstrap.sh"
  "$ROOT/scripts/bootstrap.sh"
fi

FUNCTION_PID="" STUB_PID=""
cleanup() {
  if [ -n "$FUNCTION_PID" ]; then kill "$FUNCTION_PID" 2>/dev/null || true; fi
  if [ -n "$STUB_PID" ]; then kill "$STUB_PID" 2>/dev/null || true; fi
  stop_services
}
trap cleanup EXIT

seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- 1. sam build, as a deploy runs it --------------------------------------------------------
# Flags rather than samconfig.toml: the script must not depend on how that file is set up, and
# every value given here equals what samconfig.toml's build section asks for (not cached: SAM
# would hash the whole CodeUri, target/ included). --build-dir and --cache-dir keep the
# test's output out of .aws-sam/, so it never replaces artifacts someone is about to deploy.
# rust-cargolambda is generally available in SAM CLI 1.170 (no --beta-features).
if [ "$PHASE" != check ]; then
  log "sam build $FUNCTION (rust-cargolambda, provided.al2023, arm64)"
  build_started=$EPOCHREALTIME
  SAM_CLI_TELEMETRY=0 sam build "$FUNCTION" \
    --template-file "$ROOT/template.yaml" \
    --build-dir "$BUILD_DIR" \
    --cache-dir "$WORK/sam-cache" \
    --no-cached \
    --no-use-container
  log "sam build $FUNCTION ($BUILD_KIND build) took $(seconds_since "$build_started") s"
  echo "$BUILD_KIND" >"$BUILD_KIND_FILE"
  [ "$PHASE" = build ] && exit 0
fi

# --- 2. the artifact ---------------------------------------------------------------------------
log "checking the artifact $BUILD_DIR/$FUNCTION ($BUILD_KIND build)"
if [ "$BUILD_KIND" = quick ]; then
  log "a quick build: Lambda's own size limits only; the deploy workflow holds the release build to the budget"
fi
python3 "$ROOT/tools/package-test/artifact.py" "$BUILD_DIR/$FUNCTION" \
  "${BUDGET[@]}" --max-glibc "$MAX_GLIBC" --zip "$WORK/$FUNCTION.zip"
# The same cargo call built every function's binary (cargo lambda moves only the one asked
# for into target/lambda/; sam build asks for each in turn): each is checked the same.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
for binary in $(sed -n 's/^ *Binary: *//p' "$ROOT/template.yaml"); do
  mkdir -p "$WORK/functions/$binary"
  built="$TARGET_DIR/aarch64-unknown-linux-gnu/release/$binary"
  [ -e "$built" ] || built="$TARGET_DIR/lambda/$binary/bootstrap"
  cp "$built" "$WORK/functions/$binary/bootstrap"
  printf '%s: ' "$binary"
  python3 "$ROOT/tools/package-test/artifact.py" "$WORK/functions/$binary" \
    "${BUDGET[@]}" --max-glibc "$MAX_GLIBC"
done

# --- 3. run it under qemu-aarch64 ----------------------------------------------------------------
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

DYNAMODB_PORT=$(free_port)
log "DynamoDB Local on port $DYNAMODB_PORT (in memory)"
start_dynamodb_local "$DYNAMODB_PORT"
DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT"
TABLE_NAME="package-test-$(date +%s)"
HANDLE=acme-decor
# DynamoDB Local keeps a separate set of tables per access key and region (without
# -sharedDb): the operator must use the function's. Letters and digits only, as it requires.
AWS_CREDENTIALS=(AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  AWS_ACCESS_KEY_ID=ASIAPACKAGETEST00000 AWS_SECRET_ACCESS_KEY=packagetest
  AWS_SESSION_TOKEN=packagetest)

log "creating table $TABLE_NAME and minting a dev token for $HANDLE (gharart-operator)"
# The workspace's binaries, as the other steps build them (-p would resolve other features).
CARGO_TARGET_DIR="$ROOT/target" cargo build --quiet --locked --workspace --bins
OPERATOR="$ROOT/target/debug/gharart-operator"
# The operator names its target explicitly (--local) since it learned --stage and --table.
target_flag=()
if "$OPERATOR" --help 2>&1 | grep -q -- '--local'; then target_flag=(--local); fi
operator() {
  # Never a STAGE or secret from the caller's shell: the token must be signed with the dev
  # secret that the function, which gets neither (see below), verifies with.
  env -u STAGE -u JWT_HS256_SECRET -u JWT_JWKS -u JWT_ISSUER -u JWT_AUDIENCE -u VISITOR_HASH_KEY \
    "${AWS_CREDENTIALS[@]}" TABLE_NAME="$TABLE_NAME" DYNAMODB_ENDPOINT="$DYNAMODB_ENDPOINT" \
    "$OPERATOR" "${target_flag[@]}" "$@"
}
operator create-table >/dev/null
TOKEN=$(operator mint-jwt --handle "$HANDLE")

python3 "$ROOT/tools/package-test/create_group_buy.py" events \
  --token "$TOKEN" --handle "$HANDLE" --stage dev >"$RUN_DIR/events.json"

FUNCTION_NAME="gharart-group-buys-dev-$FUNCTION"
python3 "$ROOT/tools/runtime-api-stub/stub.py" \
  --events "$RUN_DIR/events.json" --results "$RUN_DIR/results.json" \
  --port-file "$RUN_DIR/stub.port" \
  --function-arn "arn:aws:lambda:us-east-1:123456789012:function:$FUNCTION_NAME" \
  --function-timeout 10 --timeout 180 2>"$RUN_DIR/stub.log" &
STUB_PID=$!
for _ in $(seq 100); do [ -s "$RUN_DIR/stub.port" ] && break; sleep 0.1; done
[ -s "$RUN_DIR/stub.port" ] || { log "the Runtime API stub did not start"; cat "$RUN_DIR/stub.log"; exit 1; }
STUB_PORT=$(cat "$RUN_DIR/stub.port")

# The environment Lambda gives a provided.al2023 function, plus template.yaml's variables,
# and nothing from this shell (env -i). STAGE is left out on purpose: with STAGE set the
# function is a deployed stage and refuses to start without VISITOR_HASH_KEY and
# JWT_HS256_SECRET/JWT_JWKS from Secrets Manager; without it, it runs in local mode with the
# documented dev secret and hash key (shared/src/configuration.rs), which is what the token
# above is signed with. DYNAMODB_ENDPOINT is the only other variable a deployed function does
# not get. The JWT_* parameters are empty, as on dev.
log "running the arm64 bootstrap under qemu-aarch64 (Runtime API stub on port $STUB_PORT)"
launched_at=$EPOCHREALTIME
(
  cd "$BUILD_DIR/$FUNCTION"
  exec env -i \
    PATH=/usr/local/bin:/usr/bin:/bin \
    LANG=en_US.UTF-8 TZ=:UTC \
    LAMBDA_TASK_ROOT="$BUILD_DIR/$FUNCTION" _HANDLER=bootstrap \
    AWS_LAMBDA_RUNTIME_API="127.0.0.1:$STUB_PORT" \
    AWS_LAMBDA_FUNCTION_NAME="$FUNCTION_NAME" \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
    AWS_LAMBDA_INITIALIZATION_TYPE=on-demand \
    AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/$FUNCTION_NAME" \
    AWS_LAMBDA_LOG_STREAM_NAME="$(date +%Y/%m/%d)/[\$LATEST]package-test" \
    "${AWS_CREDENTIALS[@]}" \
    TABLE_NAME="$TABLE_NAME" DYNAMODB_ENDPOINT="$DYNAMODB_ENDPOINT" \
    JWT_JWKS="" JWT_ISSUER="" JWT_AUDIENCE="" \
    RUST_LOG=info \
    "$(command -v qemu-aarch64)" -L /usr/aarch64-linux-gnu ./bootstrap
) >"$RUN_DIR/function.stdout" 2>"$RUN_DIR/function.stderr" &
FUNCTION_PID=$!

show_function_output() {
  log "the function's stderr (last 60 lines)"
  tail -n 60 "$RUN_DIR/function.stderr" >&2 || true
  log "the function's stdout (last 60 lines)"
  tail -n 60 "$RUN_DIR/function.stdout" >&2 || true
  if [ -s "$RUN_DIR/stub.log" ]; then log "the stub's log"; cat "$RUN_DIR/stub.log" >&2; fi
}

# Until the stub has an answer to every event; a function that exits first has failed.
while kill -0 "$STUB_PID" 2>/dev/null; do
  if ! kill -0 "$FUNCTION_PID" 2>/dev/null; then
    status=0
    wait "$FUNCTION_PID" || status=$?
    sleep 0.5 # an init error reaches the stub just before the process exits
    if kill -0 "$STUB_PID" 2>/dev/null; then
      log "FAILED: the function exited (status $status) before answering every event"
      FUNCTION_PID=""
      show_function_output
      exit 1
    fi
    break
  fi
  sleep 0.1
done
stub_status=0
wait "$STUB_PID" || stub_status=$?
STUB_PID=""
kill "$FUNCTION_PID" 2>/dev/null || true
wait "$FUNCTION_PID" 2>/dev/null || true
FUNCTION_PID=""

log "responses of the arm64 $FUNCTION"
if ! python3 "$ROOT/tools/package-test/create_group_buy.py" check \
  --events "$RUN_DIR/events.json" --results "$RUN_DIR/results.json" \
  --launched-at "$launched_at" || [ "$stub_status" -ne 0 ]; then
  [ "$stub_status" -eq 0 ] || log "the Runtime API stub exited with status $stub_status"
  show_function_output
  exit 1
fi

log "packaging test passed; the run's files are in $RUN_DIR"
