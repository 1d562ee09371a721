#!/usr/bin/env bash
# Lints template.yaml offline, twice: cfn-lint (the pinned one in .tools/venv) and SAM CLI's
# own `sam validate --lint`; lints deploy/edge-waf.yaml (the edge's WAF stack) the same two ways;
# and scans both with checkov (.tools/checkov), which must report no failed check. Any
# finding, warnings included, fails the script; a template-wide exception goes in the
# template's `Metadata: cfn-lint:` with the reason next to it, and a checkov check that does
# not apply to a resource is skipped in that resource's `Metadata: checkov: skip:` with a
# one-line reason (xtask writes the route functions').
# Needs no AWS credentials and no network: both lint against the bundled resource
# specifications for us-east-1 (set CHECK_TEMPLATE_REGION to lint for another region), and SAM
# CLI telemetry is off. (SAM CLI still tries, at most weekly and with a 5 s timeout, to look
# up its newest version on PyPI after a success; offline, that fails silently.)
# Tools: run scripts/bootstrap.sh once if cfn-lint or sam is missing.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

region=${CHECK_TEMPLATE_REGION:-us-east-1}
CHECKOV="$TOOLS/checkov/bin/checkov"
for tool in cfn-lint sam "$CHECKOV"; do
  command -v "$tool" >/dev/null || { log "$tool is not installed; run scripts/bootstrap.sh"; exit 1; }
done

# A clean, credential-free AWS environment: nothing here may reach an account.
offline=(env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  AWS_DEFAULT_REGION="$region" AWS_REGION="$region" SAM_CLI_TELEMETRY=0)

status=0

log "cfn-lint template.yaml ($region)"
"${offline[@]}" cfn-lint --regions "$region" --template template.yaml || status=1

log "sam validate --lint --template template.yaml ($region)"
"${offline[@]}" sam validate --lint --region "$region" --template template.yaml || status=1

log "cfn-lint and sam validate --lint deploy/edge-waf.yaml (us-east-1, where CloudFront's web ACLs live)"
"${offline[@]}" cfn-lint --regions us-east-1 --template deploy/edge-waf.yaml || status=1
"${offline[@]}" sam validate --lint --region us-east-1 --template deploy/edge-waf.yaml || status=1

for template in template.yaml deploy/edge-waf.yaml; do
  log "checkov $template (no failed check; skips need their reason in the template)"
  # Offline: no download of a newer version, no upload of results.
  "${offline[@]}" BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
    "$CHECKOV" --file "$template" --framework cloudformation --compact --quiet \
    --skip-download || status=1
done

if [ "$status" -ne 0 ]; then
  log "template.yaml has lint findings (above)"
fi
exit "$status"
