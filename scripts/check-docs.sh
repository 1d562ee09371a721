#!/usr/bin/env bash
# The docs and scripts hold together (run by scripts/test.sh):
# - README.md stays a front page: at most 200 lines (the rest belongs in docs/);
# - every relative link in README.md and docs/ resolves inside the repository, anchors included
#   (tools/check-docs/links.py);
# - every shell script parses (bash -n) and, where shellcheck is installed, has no error.
# docs/walkthrough.md and docs/playbooks/ are run as tests by scripts/playbooks.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

lines=$(wc -l <README.md)
if [ "$lines" -gt 200 ]; then
  log "README.md has $lines lines; keep it at most 200 and move the rest into docs/"
  exit 1
fi

python3 tools/check-docs/links.py

scripts=(scripts/*.sh .ci/run)
for script in "${scripts[@]}"; do
  bash -n "$script" || { log "$script does not parse"; exit 1; }
done
if command -v shellcheck >/dev/null; then
  shellcheck -x -S error "${scripts[@]}"
fi
log "README.md ($lines lines), links and ${#scripts[@]} shell scripts are fine"
