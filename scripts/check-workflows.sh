#!/usr/bin/env bash
# Checks the GitHub Actions workflows, offline: their schema (check-jsonschema), their security
# (zizmor: unpinned actions, template injection, excessive permissions, credential leaks, cache
# poisoning...; medium severity and above fail), and that deploy.yml pins the same cargo-lambda
# and SAM CLI versions as scripts/bootstrap.sh. Both tools are installed by scripts/bootstrap.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

workflows=(.github/workflows/*.yml)

log "check-jsonschema (GitHub workflow schema)"
check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"

log "zizmor --offline --min-severity medium"
# Offline: no GitHub token, no network; the online audits (impostor commits, known-vulnerable
# actions) are left to GitHub's own Dependabot alerts.
env -u GH_TOKEN -u GITHUB_TOKEN -u ZIZMOR_GITHUB_TOKEN \
  zizmor --offline --no-progress --strict-collection --min-severity medium .github/workflows/

# pinned NAME: the version scripts/bootstrap.sh and deploy.yml each pin for NAME.
pinned() {
  local in_bootstrap in_deploy
  in_bootstrap=$(sed -n "s/^$1=\\(.*\\)\$/\\1/p" scripts/bootstrap.sh)
  in_deploy=$(sed -n "s/^  $1: \"\\(.*\\)\"\$/\\1/p" .github/workflows/deploy.yml)
  if [ -z "$in_bootstrap" ] || [ "$in_bootstrap" != "$in_deploy" ]; then
    log "$1: scripts/bootstrap.sh pins '$in_bootstrap', .github/workflows/deploy.yml '$in_deploy'"
    return 1
  fi
}
log "tool versions in deploy.yml match scripts/bootstrap.sh"
pinned CARGO_LAMBDA_VERSION
pinned SAM_CLI_VERSION
