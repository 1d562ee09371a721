#!/usr/bin/env bash
# compare-resources.sh [BASE_REF]: does the working template.yaml deploy exactly what
# template.yaml at BASE_REF (default HEAD) deploys? Both are parsed with CloudFormation's
# short-form tags, expanded by the SAM transform offline (samtranslator from the SAM CLI's
# venv, .tools/sam), and compared logical id by logical id, property by property, with
# Parameters, Mappings, Conditions, Rules, Outputs and Globals (tools/compare-templates).
# Prints each added, removed or changed id with a diff and exits 1 if anything differs;
# prints "N resources, identical" and exits 0 otherwise. For refactors of the template (and of
# its generator, cargo xtask generate): run it before committing one.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

base=${1:-HEAD}
python="$TOOLS/sam/bin/python"
if [ ! -x "$python" ]; then
  log "no SAM CLI venv in .tools/sam (scripts/bootstrap.sh): comparing without the SAM transform"
  python=python3
fi

old=$(mktemp "${TMPDIR:-/tmp}/template-$(printf %s "$base" | tr -c 'A-Za-z0-9._-' _).XXXXXX.yaml")
trap 'rm -f "$old"' EXIT
git show "$base:template.yaml" >"$old"

# A clean, credential-free AWS environment, as scripts/check-template.sh has it: the
# transform runs offline.
env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  "$python" tools/compare-templates/compare_templates.py "$old" template.yaml \
  --old-label "$base:template.yaml" --new-label "template.yaml"
