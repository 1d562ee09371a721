#!/usr/bin/env python3
"""Independently verify a group-buy campaign's published draw.

Usage:
    scripts/verify-draw.py URL [--ticket T ...] [--timeout SECONDS]

URL is the campaign's public URL, e.g.
    http://127.0.0.1:9000/v2/public/group-buys/{handle}/{slug}

The script fetches the public view (GET URL) and every page of the draw list
(GET URL/draw?limit=100, following nextCursor), then re-derives the draw.

The rule:
  * the seed is 32 bytes; the commitment published before the draw is the
    lower-case hex SHA-256 of the seed bytes;
  * each entry is ordered by SHA-256(seed bytes || ticket UTF-8 bytes),
    ascending as unsigned big-endian numbers, ties broken by ticket; rank 1
    comes first;
  * the first winnerCount ranks are "won", then zero or more "waitlisted",
    then the rest "lost".

Exit codes: 0 verified; 1 verification failed; 2 not drawn yet, not a draw
campaign, or an HTTP/network error.
"""
import argparse
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

PAGE_LIMIT = 100
MAX_SHOWN = 20
MAX_PER_CHECK = 5  # per-item checks report this many, then a count


class FetchError(Exception):
    """An HTTP or network failure; the message is printed as-is."""


def get_json(url, timeout):
    """GET url with Accept: application/json and return the decoded body."""
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        msg = f"HTTP {e.code} from {url}"
        try:
            problem = json.loads(e.read())
            msg += f": {problem.get('code')}: {problem.get('detail')}"
        except (ValueError, AttributeError):
            pass
        raise FetchError(msg) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise FetchError(f"cannot fetch {url}: {e}") from None


def fetch_draw_list(base, timeout):
    """Walk every page of the draw list; return (first page, all items)."""
    first, items, cursor, seen = None, [], None, set()
    while True:
        query = {"limit": PAGE_LIMIT}
        if cursor is not None:
            query["cursor"] = cursor
        page = get_json(f"{base}/draw?{urllib.parse.urlencode(query)}", timeout)
        if not isinstance(page, dict):
            raise FetchError("draw list page is not a JSON object")
        if first is None:
            first = page
        page_items = page.get("items") or []
        if not all(isinstance(it, dict) for it in page_items):
            raise FetchError("draw list page has malformed items")
        items.extend(page_items)
        cursor = page.get("nextCursor")
        if cursor is None:
            return first, items
        if cursor in seen:
            raise FetchError(f"draw list cursor loop at {cursor!r}")
        seen.add(cursor)


def ranked(seed_bytes, tickets):
    """Return tickets in rank order: by SHA-256(seed || ticket), then ticket."""
    def key(ticket):
        return (hashlib.sha256(seed_bytes + ticket.encode("utf-8")).digest(), ticket)
    return sorted(tickets, key=key)


def capped(fails, found, what):
    """Append the first few per-item findings, then a count of the rest."""
    fails.extend(found[:MAX_PER_CHECK])
    if len(found) > MAX_PER_CHECK:
        fails.append(f"... {len(found) - MAX_PER_CHECK} more {what}")


def verify(view, first, items, wanted):
    """Check the draw; return (list of failures, summary counts)."""
    fails, draw = [], view["draw"]
    seed_hex = draw["seed"]
    seed = None
    if isinstance(seed_hex, str) and len(seed_hex) == 64 and all(c in "0123456789abcdefABCDEF" for c in seed_hex):
        seed = bytes.fromhex(seed_hex)
        digest = hashlib.sha256(seed).hexdigest()
        if digest != draw.get("commitment"):
            fails.append(f"sha256(seed) {digest} != view commitment {draw.get('commitment')}")
        if digest != first.get("commitment"):
            fails.append(f"sha256(seed) {digest} != list commitment {first.get('commitment')}")
    else:
        fails.append(f"seed is not 64 hex chars: {seed_hex!r}")
    if first.get("seed") != seed_hex:
        fails.append(f"list seed {first.get('seed')} != view seed {seed_hex}")

    tickets = [it.get("ticket") for it in items]
    by_ticket, dups, bad_pos = {}, [], []
    for pos, it in enumerate(items, 1):
        if it.get("ticket") in by_ticket:
            dups.append(f"duplicate ticket {it.get('ticket')!r}")
        by_ticket.setdefault(it.get("ticket"), it)
        if it.get("rank") != pos:
            bad_pos.append(f"item {pos} ({it.get('ticket')!r}) has rank {it.get('rank')}, expected {pos}")
    capped(fails, dups, "duplicate tickets")
    capped(fails, bad_pos, "items out of the 1..N sequence")
    if len(items) != draw.get("entryCount"):
        fails.append(f"list has {len(items)} entries, view entryCount is {draw.get('entryCount')}")

    if seed is not None and all(isinstance(t, str) for t in tickets):
        computed = {t: r for r, t in enumerate(ranked(seed, set(tickets)), 1)}
        capped(fails, [f"ticket {it['ticket']!r}: listed rank {it.get('rank')}, computed rank {computed[it['ticket']]}"
                       for it in items if it.get("rank") != computed[it["ticket"]]], "rank mismatches")
    elif seed is not None:
        fails.append("some tickets are not strings; cannot recompute ranks")

    order = {"won": 0, "waitlisted": 1, "lost": 2}
    counts, stage, bad_res = {"won": 0, "waitlisted": 0, "lost": 0}, 0, []
    for it in items:
        res = it.get("result")
        if res not in order:
            bad_res.append(f"ticket {it.get('ticket')!r}: unknown result {res!r}")
            continue
        if order[res] < stage:
            bad_res.append(f"ticket {it.get('ticket')!r} (rank {it.get('rank')}) is {res} after a worse result")
        stage = max(stage, order[res])
        counts[res] += 1
    capped(fails, bad_res, "result-order problems")
    winners, cap = draw.get("winnerCount"), view.get("maxParticipants")
    if counts["won"] != winners:
        fails.append(f"{counts['won']} won, view winnerCount is {winners}")
    if cap is not None and isinstance(winners, int) and winners > cap:
        fails.append(f"winnerCount {winners} exceeds maxParticipants {cap}")

    for t in wanted:
        if t in by_ticket:
            print(f"ticket {t}: rank {by_ticket[t].get('rank')}, {by_ticket[t].get('result')}")
        else:
            fails.append(f"ticket {t!r} is not in the draw list")
    return fails, counts


def main():
    """Parse arguments, fetch, verify, print the verdict, return the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="campaign public URL")
    ap.add_argument("--ticket", action="append", default=[], help="ticket to look up (repeatable)")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    try:
        view = get_json(base, args.timeout)
        draw = view.get("draw") if isinstance(view, dict) else None
        if not draw:
            print("not a draw campaign: the view has no draw", file=sys.stderr)
            return 2
        if not draw.get("seed"):
            print("the draw has not run (no seed published yet)", file=sys.stderr)
            return 2
        first, items = fetch_draw_list(base, args.timeout)
    except FetchError as e:
        print(e, file=sys.stderr)
        return 2
    fails, counts = verify(view, first, items, args.ticket)
    if fails:
        print("verification FAILED:")
        for f in fails[:MAX_SHOWN]:
            print(f"  - {f}")
        if len(fails) > MAX_SHOWN:
            print(f"  ... and {len(fails) - MAX_SHOWN} more ({len(fails)} failures in total)")
        return 1
    print(f"verified: {len(items)} entries, {counts['won']} won, {counts['waitlisted']} waitlisted, "
          f"{counts['lost']} lost; commitment {draw['commitment']} matches seed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
