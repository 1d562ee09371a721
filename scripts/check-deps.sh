#!/usr/bin/env bash
# The dependencies (deny.toml): RustSec advisories, licences, banned crates and sources, with
# cargo-deny (scripts/bootstrap.sh installs it). Where the snapshot of the advisory database is
# (../shared/rustsec-advisory-db, a git bundle; RUSTSEC_BUNDLE), offline against it, cloned
# into target/advisory-db under the name cargo-deny gives the default database; elsewhere (the
# GitHub workflow) against the live database, which cargo-deny fetches there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

BUNDLE="${RUSTSEC_BUNDLE:-$ROOT/../shared/rustsec-advisory-db/advisory-db.bundle}"
# Where cargo-deny keeps the default database (github.com/rustsec/advisory-db).
DB="$ROOT/target/advisory-db/advisory-db-3157b0e258782691"
# Every crate of the lock file on disk, so that the check itself reads nothing more.
cargo fetch --locked --quiet
if [ -f "$BUNDLE" ]; then
  head=$(git bundle list-heads "$BUNDLE" | awk 'NR == 1 {print $1}')
  if [ "$(git -C "$DB" rev-parse HEAD 2>/dev/null)" != "$head" ]; then
    rm -rf "$DB"
    mkdir -p "$(dirname "$DB")"
    git clone --quiet "$BUNDLE" "$DB"
  fi
  log "advisories: the offline snapshot $(git -C "$DB" show -s --format=%cs HEAD) ($BUNDLE)"
  "$TOOLS/venv/bin/cargo-deny" --offline --log-level warn check advisories licenses bans sources
else
  rm -rf "$DB"
  log "advisories: the live RustSec database (no snapshot at $BUNDLE)"
  "$TOOLS/venv/bin/cargo-deny" --log-level warn check advisories licenses bans sources
fi
