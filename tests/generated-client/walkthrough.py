"""The owner lifecycle and the public half of docs/walkthrough.md, driven through the
Python client that openapi-python-client generates from openapi.yaml.

Run by scripts/generated-client.sh, which generates the package `gharart_client`, puts it on
PYTHONPATH and sets API (base URL), TOKEN (a JWT of an owner of HANDLE) and HANDLE. Only the
generated client is used: its API functions, its models and its `AuthenticatedClient`; no
hand-written HTTP. Every response is checked for its status and, where the description types
it, for its parsed model (`Response.parsed`); a documented response that comes back unparsed
(or as another model), an undocumented status (`raise_on_unexpected_status`), or a body field
the description does not declare (kept by the models in `additional_properties`) fails the
run. Prints one line per request and a summary of the models seen.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from gharart_client import AuthenticatedClient, Client
from gharart_client.api.default import (
    close_group_buy,
    create_group_buy,
    get_group_buy,
    get_my_interest,
    get_public_group_buy,
    issue_visitor_challenge,
    issue_visitor_pass,
    list_group_buys,
    list_interests,
    list_public_group_buys,
    pause_group_buy,
    publish_group_buy,
    register_interest,
    withdraw_interest,
)
from gharart_client.models import (
    CloseGroupBuyBody,
    CloseGroupBuyBodyOutcome,
    GetGroupBuyInclude,
    GetGroupBuyResponse200,
    GetMyInterestResponse200,
    GroupBuy,
    IssueVisitorPassBody,
    IssueVisitorPassResponse201,
    ListGroupBuysResponse200,
    ListInterestsResponse200,
    ListPublicGroupBuysResponse200,
    NewGroupBuy,
    NewGroupBuyCurrency,
    Problem,
    RegisterInterestBody,
    RegisterInterestResponse200,
    RegisterInterestResponse201,
    Status,
    VisitorChallenge,
)
from gharart_client.types import UNSET, Response

API = os.environ["API"]
TOKEN = os.environ["TOKEN"]
HANDLE = os.environ.get("HANDLE", "acme-decor")
# The first request to each function waits for `cargo lambda watch` to start it.
TIMEOUT = float(os.environ.get("CLIENT_TIMEOUT_SECONDS", "180"))

# (operation, status, parsed model or None) of every request, for the summary.
SEEN: list[tuple[str, int, str]] = []
# Body fields the description does not declare: the generated models keep them in
# `additional_properties`. (operation, status, JSON path of the object, field names).
UNDECLARED: set[tuple[str, int, str, str]] = set()


def undeclared_fields(value: Any, path: str) -> list[tuple[str, str]]:
    """(JSON path, names) of every parsed model under `value` that kept undeclared fields."""
    if isinstance(value, list):
        return [entry for item in value for entry in undeclared_fields(item, f"{path}[]")]
    extra = getattr(value, "additional_properties", None)
    if not isinstance(extra, dict):
        return []
    found = [(path or "$", ",".join(sorted(extra)))] if extra else []
    for attribute in getattr(type(value), "__attrs_attrs__", ()):
        if attribute.name != "additional_properties":
            found += undeclared_fields(getattr(value, attribute.name), f"{path}.{attribute.name}")
    return found


class WalkthroughError(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise WalkthroughError(message)


def call(
    step: str,
    operation: Any,
    expect: int,
    model: type | None,
    /,
    **kwargs: Any,
) -> Any:
    """Calls `operation.sync_detailed(**kwargs)`; checks the status, `x-request-id` and that
    `parsed` is an instance of `model` (None: a response without a body, e.g. 204). Returns
    the response."""
    response: Response[Any] = operation.sync_detailed(**kwargs)
    name = operation.__name__.rsplit(".", 1)[-1]
    parsed = response.parsed
    parsed_name = type(parsed).__name__ if parsed is not None else "None"
    SEEN.append((name, int(response.status_code), parsed_name))
    for path, fields in undeclared_fields(parsed, ""):
        UNDECLARED.add((name, int(response.status_code), path, fields))
    request_id = response.headers.get("x-request-id", "")
    print(f"  {step}: {name} -> {int(response.status_code)} {parsed_name} (x-request-id: {request_id or '-'})")
    body = response.content.decode("utf-8", "replace")[:600]
    check(
        response.status_code == HTTPStatus(expect),
        f"{step}: {name} answered {int(response.status_code)}, expected {expect}: {body}",
    )
    check(bool(request_id), f"{step}: {name} answered without x-request-id")
    if model is None:
        check(parsed is None, f"{step}: {name} parsed a body for a {expect}: {parsed!r}")
    else:
        check(
            isinstance(parsed, model),
            f"{step}: {name} {expect} parsed as {parsed_name}, expected {model.__name__}: {body}",
        )
    return response


def problem(step: str, response: Response[Any], code: str) -> Problem:
    parsed = response.parsed
    assert isinstance(parsed, Problem)
    check(parsed.code == code, f"{step}: problem code {parsed.code}, expected {code}")
    check(parsed.status == int(response.status_code), f"{step}: problem status {parsed.status}")
    check(bool(parsed.request_id), f"{step}: problem without requestId")
    return parsed


def owner_lifecycle(owner: AuthenticatedClient) -> None:
    print("the owner lifecycle (docs/walkthrough.md, part 1)")
    slug = "brass-lamp-limited-edition"
    gb: dict[str, Any] = {"handle": HANDLE, "group_buy_slug": slug, "client": owner}

    # 1. Create a draft.
    r = call(
        "1 create",
        create_group_buy,
        201,
        GroupBuy,
        handle=HANDLE,
        client=owner,
        body=NewGroupBuy(
            title="Brass lamp, limited edition",
            description="Hand-cast, 40 pieces.",
            currency=NewGroupBuyCurrency.INR,
            unit_price_minor=249900,
            min_participants=1,
            max_participants=40,
            max_quantity_per_participant=2,
        ),
    )
    created: GroupBuy = r.parsed
    check(created.slug == slug, f"slug {created.slug}")
    check(created.status == Status.DRAFT and created.version == 1, f"{created.status} v{created.version}")
    check(
        r.headers.get("location") == f"/v2/handles/{HANDLE}/group-buys/{slug}", f"Location {r.headers.get('location')}"
    )
    check(r.headers.get("etag") == '"1"', f"ETag {r.headers.get('etag')}")

    # 2. Check the state before every transition; the draft is in the owner's list.
    r = call("2 read", get_group_buy, 200, GetGroupBuyResponse200, **gb)
    check(r.parsed.status == Status.DRAFT, f"status {r.parsed.status}")
    r = call("2 list", list_group_buys, 200, ListGroupBuysResponse200, handle=HANDLE, client=owner)
    check([item.slug for item in r.parsed.items] == [slug], f"list {[i.slug for i in r.parsed.items]}")
    check(r.parsed.next_cursor is None, "nextCursor on a one-item list")

    # 3. Publish, and again: safe to retry.
    r = call("3 publish", publish_group_buy, 200, GroupBuy, **gb)
    check(r.parsed.status == Status.PUBLISHED and r.parsed.version == 2, f"{r.parsed.status} v{r.parsed.version}")
    r = call("3 publish again", publish_group_buy, 200, GroupBuy, **gb)
    check(r.parsed.status == Status.PUBLISHED and r.parsed.version == 2, "a retried publish changed something")
    etag = r.headers.get("etag")
    check(etag == '"2"', f"ETag {etag}")

    # 4. Pause with If-Match (the ETag last read), then publish again. A stale ETag is 412.
    r = call("4 pause, stale If-Match", pause_group_buy, 412, Problem, if_match='"1"', **gb)
    stale = problem("4 pause, stale If-Match", r, "VERSION_MISMATCH")
    check(stale.current_version == 2, f"currentVersion {stale.current_version}")
    r = call("4 pause", pause_group_buy, 200, GroupBuy, if_match=etag, **gb)
    check(r.parsed.status == Status.PAUSED and r.parsed.version == 3, f"{r.parsed.status} v{r.parsed.version}")
    r = call("4 publish", publish_group_buy, 200, GroupBuy, **gb)
    check(r.parsed.status == Status.PUBLISHED and r.parsed.version == 4, f"{r.parsed.status} v{r.parsed.version}")

    # 5. Close as fulfilled: refused below the threshold (0 of 1).
    r = call(
        "5 close fulfilled",
        close_group_buy,
        409,
        Problem,
        body=CloseGroupBuyBody(outcome=CloseGroupBuyBodyOutcome.FULFILLED),
        **gb,
    )
    refused = problem("5 close fulfilled", r, "THRESHOLD_NOT_MET")
    check(
        refused.participant_count == 0 and refused.min_participants == 1,
        f"participantCount {refused.participant_count}, minParticipants {refused.min_participants}",
    )

    # 6. Cancel instead; the same close again is a 200 no-op.
    cancel = CloseGroupBuyBody(outcome=CloseGroupBuyBodyOutcome.CANCELLED)
    r = call("6 cancel", close_group_buy, 200, GroupBuy, body=cancel, **gb)
    closed: GroupBuy = r.parsed
    check(
        closed.status == Status.CLOSED and closed.close_outcome == "cancelled",
        f"{closed.status} {closed.close_outcome}",
    )
    check(closed.version == 5, f"version {closed.version}")
    r = call("6 cancel again", close_group_buy, 200, GroupBuy, body=cancel, **gb)
    check(r.parsed.version == 5 and r.parsed.close_outcome == "cancelled", "a repeated close changed something")

    # 7. The history, the refusal included; the closed list.
    r = call("7 history", get_group_buy, 200, GetGroupBuyResponse200, include=GetGroupBuyInclude.HISTORY, **gb)
    history = r.parsed.history
    actions = [(entry.action, entry.result) for entry in history]
    check(
        actions
        == [
            ("create", "applied"),
            ("publish", "applied"),
            ("pause", "applied"),
            ("publish", "applied"),
            ("close", "rejected"),
            ("close", "applied"),
        ],
        f"history {actions}",
    )
    check(history[4].reason == "THRESHOLD_NOT_MET" and history[4].to is None, f"refusal {history[4]}")
    check(all(entry.request_id for entry in history), "a history entry without requestId")
    check(r.parsed.history_next_cursor is None, f"historyNextCursor {r.parsed.history_next_cursor}")
    r = call(
        "7 closed list",
        list_group_buys,
        200,
        ListGroupBuysResponse200,
        handle=HANDLE,
        client=owner,
        status=Status.CLOSED,
        limit=10,
    )
    check([item.slug for item in r.parsed.items] == [slug], f"closed list {[i.slug for i in r.parsed.items]}")


def visitor_pass(public: Client, step: str) -> str:
    """A visitor pass, as a storefront gets one: a challenge, solved (the first nonce whose
    SHA-256 of salt + nonce starts with `difficulty` zero bits), redeemed."""
    r = call(f"{step} challenge", issue_visitor_challenge, 201, VisitorChallenge, client=public)
    challenge = r.parsed
    check(challenge.algorithm == "SHA-256", f"algorithm {challenge.algorithm}")
    nonce = 0
    while int.from_bytes(hashlib.sha256(f"{challenge.salt}{nonce}".encode()).digest(), "big") >> (
        256 - challenge.difficulty
    ):
        nonce += 1
    body = IssueVisitorPassBody(challenge=challenge.challenge, nonce=str(nonce))
    r = call(f"{step} pass", issue_visitor_pass, 201, IssueVisitorPassResponse201, client=public, body=body)
    pass_ = r.parsed.visitor_pass
    r = call(f"{step} pass again", issue_visitor_pass, 409, Problem, client=public, body=body)
    problem(f"{step} pass again", r, "CHALLENGE_USED")
    return pass_


def public_half(owner: AuthenticatedClient, public: Client, anonymous: Callable[[str], AuthenticatedClient]) -> None:
    print("the public half (docs/walkthrough.md, part 2)")
    slug = "jute-rug-drop"
    gb: dict[str, Any] = {"handle": HANDLE, "group_buy_slug": slug, "client": owner}

    def pub(client: Any) -> dict[str, Any]:
        return {"handle": HANDLE, "group_buy_slug": slug, "client": client}

    # 8. Create (threshold 2, at most 2 each) and publish; the public view.
    r = call(
        "8 create",
        create_group_buy,
        201,
        GroupBuy,
        handle=HANDLE,
        client=owner,
        body=NewGroupBuy(
            slug=slug,
            title="Jute rug",
            currency=NewGroupBuyCurrency.INR,
            unit_price_minor=899900,
            min_participants=2,
            max_quantity_per_participant=2,
        ),
    )
    check(
        r.parsed.slug == slug and r.parsed.max_participants is None, f"{r.parsed.slug} max {r.parsed.max_participants}"
    )
    r = call("8 public read of a draft", get_public_group_buy, 404, Problem, **pub(public))
    problem("8 public read of a draft", r, "GROUP_BUY_NOT_FOUND")
    call("8 publish", publish_group_buy, 200, GroupBuy, **gb)
    r = call("8 public read", get_public_group_buy, 200, GroupBuy, **pub(public))
    check(r.parsed.status == Status.PUBLISHED, f"status {r.parsed.status}")
    check(r.parsed.version is UNSET, f"the public view has a version: {r.parsed.version}")
    check(r.headers.get("cache-control") == "public, max-age=10", f"Cache-Control {r.headers.get('cache-control')}")
    r = call("8 public list", list_public_group_buys, 200, ListPublicGroupBuysResponse200, handle=HANDLE, client=public)
    listed = {item.slug: item.status for item in r.parsed.items}
    check(listed == {slug: Status.PUBLISHED, "brass-lamp-limited-edition": Status.CLOSED}, f"public list {listed}")
    check(all(item.version is UNSET for item in r.parsed.items), "a public list item has a version")

    passes = [visitor_pass(public, f"8 V{i}") for i in (1, 2, 3)]
    v1, v2, v3 = (anonymous(p) for p in passes)

    # 9. A visitor registers, retries, changes the quantity, reads their interest.
    r = call(
        "9 V1 register",
        register_interest,
        201,
        RegisterInterestResponse201,
        body=RegisterInterestBody(quantity=1),
        **pub(v1),
    )
    check(r.parsed.created is True and r.parsed.interest.quantity == 1, f"{r.parsed}")
    check(r.parsed.group_buy.participant_count == 1 and r.parsed.group_buy.unit_count == 1, f"{r.parsed.group_buy}")
    r = call(
        "9 V1 retry",
        register_interest,
        200,
        RegisterInterestResponse200,
        body=RegisterInterestBody(quantity=1),
        **pub(v1),
    )
    check(r.parsed.created is False and r.parsed.group_buy.participant_count == 1, f"{r.parsed}")
    r = call(
        "9 V1 quantity 2",
        register_interest,
        200,
        RegisterInterestResponse200,
        body=RegisterInterestBody(quantity=2),
        **pub(v1),
    )
    check(r.parsed.interest.quantity == 2 and r.parsed.group_buy.unit_count == 2, f"{r.parsed}")
    check(r.parsed.group_buy.participant_count == 1, f"{r.parsed.group_buy}")
    r = call("9 V1 my-interest", get_my_interest, 200, GetMyInterestResponse200, **pub(v1))
    check(r.parsed.interest.quantity == 2, f"{r.parsed.interest}")

    # 10. Another visitor registers (no body: quantity 1), withdraws twice (204, counted
    # once), registers again and withdraws again; a third stays.
    r = call("10 V2 register", register_interest, 201, RegisterInterestResponse201, **pub(v2))
    check(r.parsed.interest.quantity == 1 and r.parsed.group_buy.participant_count == 2, f"{r.parsed}")
    call("10 V2 withdraw", withdraw_interest, 204, None, **pub(v2))
    call("10 V2 withdraw again", withdraw_interest, 204, None, **pub(v2))
    r = call("10 V2 my-interest", get_my_interest, 404, Problem, **pub(v2))
    problem("10 V2 my-interest", r, "INTEREST_NOT_FOUND")
    r = call("10 public read", get_public_group_buy, 200, GroupBuy, **pub(public))
    check(r.parsed.participant_count == 1 and r.parsed.unit_count == 2, f"{r.parsed}")
    # Below the threshold (1 of 2): closing as fulfilled is refused.
    r = call(
        "10 close fulfilled",
        close_group_buy,
        409,
        Problem,
        body=CloseGroupBuyBody(outcome=CloseGroupBuyBodyOutcome.FULFILLED),
        **gb,
    )
    refused = problem("10 close fulfilled", r, "THRESHOLD_NOT_MET")
    check(refused.participant_count == 1 and refused.min_participants == 2, f"{refused}")
    r = call("10 V2 registers again", register_interest, 201, RegisterInterestResponse201, **pub(v2))
    check(r.parsed.created is True and r.parsed.group_buy.participant_count == 2, f"{r.parsed}")
    call("10 V2 withdraws again", withdraw_interest, 204, None, **pub(v2))
    r = call("10 V3 register", register_interest, 201, RegisterInterestResponse201, **pub(v3))
    check(r.parsed.group_buy.participant_count == 2 and r.parsed.group_buy.unit_count == 3, f"{r.parsed.group_buy}")

    # 11. The owner checks the count and the participants, then closes as fulfilled.
    r = call("11 owner read", get_group_buy, 200, GetGroupBuyResponse200, **gb)
    check(
        r.parsed.participant_count == 2 and r.parsed.unit_count == 3 and r.parsed.threshold_met is True,
        f"participantCount {r.parsed.participant_count}, unitCount {r.parsed.unit_count}, "
        f"thresholdMet {r.parsed.threshold_met}",
    )
    etag = r.headers.get("etag")
    r = call("11 interests", list_interests, 200, ListInterestsResponse200, **gb)
    participants = r.parsed.items
    check(sorted(p.quantity for p in participants) == [1, 2], f"quantities {[p.quantity for p in participants]}")
    pseudonyms = [p.participant for p in participants]
    check(len(set(pseudonyms)) == 2 and all(pseudonyms), f"participants {pseudonyms}")
    check(not any(p in v for p in pseudonyms for v in passes), "a visitor pass in the participants")
    r = call(
        "11 close fulfilled",
        close_group_buy,
        200,
        GroupBuy,
        body=CloseGroupBuyBody(outcome=CloseGroupBuyBodyOutcome.FULFILLED),
        if_match=etag,
        **gb,
    )
    check(
        r.parsed.status == Status.CLOSED and r.parsed.close_outcome == "fulfilled",
        f"{r.parsed.status} {r.parsed.close_outcome}",
    )
    r = call("11 V2 after close", register_interest, 409, Problem, **pub(v2))
    problem("11 V2 after close", r, "GROUP_BUY_CLOSED")
    r = call("11 public read", get_public_group_buy, 200, GroupBuy, **pub(public))
    check(r.parsed.status == Status.CLOSED and r.parsed.participant_count == 2, f"{r.parsed}")


def main() -> int:
    common: dict[str, Any] = {"base_url": API, "timeout": TIMEOUT, "raise_on_unexpected_status": True}
    owner = AuthenticatedClient(token=TOKEN, **common)
    # No credentials: the public GETs (`security: []`).
    public = Client(**common)

    # An anonymous visitor: the `visitorPass` security scheme (an API key in X-Visitor-Pass),
    # which the generated client carries as its token in another header.
    def anonymous(visitor_pass: str) -> AuthenticatedClient:
        return AuthenticatedClient(token=visitor_pass, prefix="", auth_header_name="X-Visitor-Pass", **common)

    try:
        owner_lifecycle(owner)
        public_half(owner, public, anonymous)
        # Every field a response carries is declared: what a generated client types.
        check(not UNDECLARED, "responses carry fields that openapi.yaml does not declare (listed above)")
    except WalkthroughError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        print("responses by operation, status and parsed model:")
        for entry in sorted(set(SEEN)):
            print("  {:<22} {} {}".format(*entry))
        if UNDECLARED:
            print("body fields that openapi.yaml does not declare (kept in additional_properties):")
            for entry in sorted(UNDECLARED):
                print("  {:<22} {} {}: {}".format(*entry))
    print(f"walkthrough passed: {len(SEEN)} requests through the generated client")
    return 0


if __name__ == "__main__":
    sys.exit(main())
