// The console's calls to the API, typed by the generated contract.
import { call, enc, type CallResult } from '../shared/http';
import type {
  AdminFlag,
  AdminRollup,
  GroupBuy,
  GroupBuyList,
  GroupBuyWithHistory,
  InterestList,
  NewGroupBuy,
  PublicDraw,
  PublicGroupBuy,
  Stats,
  Status,
  SupportReceipt,
  SupportReport,
} from '../shared/types';

export type Transition =
  | { kind: 'publish' }
  | { kind: 'pause' }
  | { kind: 'close'; outcome: 'fulfilled' | 'cancelled' }
  | { kind: 'extend'; closesAt: string }
  | { kind: 'draw' };

/**
 * The group-buy changed between the owner's look and the step: the step was not sent. Carries
 * the state read just now, which the page shows instead.
 */
export class StaleError extends Error {
  constructor(
    readonly current: GroupBuy,
    readonly etag: string | null,
  ) {
    super(`Changed since you looked: now ${current.status}, version ${current.version}. Check it, then try again.`);
  }
}

/** A read for the periodic refresh: kept out of the recent calls (http.ts, `background`). */
export interface ReadOptions {
  background?: boolean;
}

export class Api {
  constructor(
    private base: string,
    private token: () => string | null,
  ) {}

  private owner(handle: string, slug?: string): string {
    return `/v2/handles/${enc(handle)}/group-buys${slug ? `/${enc(slug)}` : ''}`;
  }

  /** One page of the handle's group-buys, newest first (100 at most), from `cursor`. */
  list(handle: string, status?: Status, cursor?: string | null): Promise<CallResult<GroupBuyList>> {
    const query = `limit=100${status ? `&status=${status}` : ''}${cursor ? `&cursor=${enc(cursor)}` : ''}`;
    return call(this.base, 'GET', `${this.owner(handle)}?${query}`, { token: this.token() });
  }

  /**
   * Every draft of the handle, page after page (at most 10 pages): the never-published ones
   * are the guide's most common failure, and being old they are what a first page of the
   * newest leaves out.
   */
  async drafts(handle: string): Promise<GroupBuy[]> {
    const found: GroupBuy[] = [];
    let cursor: string | null | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await this.list(handle, 'draft', cursor);
      found.push(...(r.body.items ?? []));
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    return found;
  }

  create(handle: string, body: NewGroupBuy, idempotencyKey: string): Promise<CallResult<GroupBuy>> {
    return call(this.base, 'POST', this.owner(handle), { token: this.token(), body, idempotencyKey });
  }

  get(handle: string, slug: string, history = false, o: ReadOptions = {}): Promise<CallResult<GroupBuyWithHistory>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}${history ? '?include=history' : ''}`, { token: this.token(), ...o });
  }

  /** The history entries before `cursor` (the `historyNextCursor` of a later page). */
  history(handle: string, slug: string, cursor: string): Promise<CallResult<GroupBuyWithHistory>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}?include=history&historyCursor=${enc(cursor)}`, { token: this.token() });
  }

  /**
   * A step on the version the owner saw (`seenEtag`), never on one they did not. The guide's
   * first debugging rule reads the current state first; if it moved since the owner's look, the
   * step is not sent (StaleError, with the new state). Otherwise If-Match carries the seen
   * ETag, so a change in between is the API's 412, and `idempotencyKey` is the intent's key.
   */
  async transition(handle: string, slug: string, t: Transition, seenEtag: string | null, idempotencyKey: string): Promise<CallResult<GroupBuy>> {
    const current = await this.get(handle, slug);
    if (!seenEtag || current.etag !== seenEtag) throw new StaleError(current.body, current.etag);
    return call(this.base, 'POST', `${this.owner(handle, slug)}/${t.kind}`, {
      token: this.token(),
      body: transitionBody(t),
      ifMatch: seenEtag,
      idempotencyKey,
    });
  }

  interests(handle: string, slug: string, o: ReadOptions = {}): Promise<CallResult<InterestList>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}/interests?limit=100`, { token: this.token(), ...o });
  }

  /** Every page of the participants as CSV, one header row. */
  async interestsCsv(handle: string, slug: string): Promise<string> {
    let path = `${this.owner(handle, slug)}/interests?limit=100`;
    let out = '';
    for (let page = 0; page < 1000; page++) {
      const r = await call<string>(this.base, 'GET', path, { token: this.token(), accept: 'text/csv' });
      const text = r.body;
      out += page === 0 ? text : text.replace(/^[^\n]*\n/, '');
      const next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') || '');
      if (!next) break;
      const target = new URL(next[1], new URL(path, 'http://x'));
      path = `${target.pathname}${target.search}`;
    }
    return out;
  }

  stats(handle: string, slug: string, o: ReadOptions = {}): Promise<CallResult<Stats>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}/stats`, { token: this.token(), ...o });
  }

  admin(filters: { status?: Status | ''; handle?: string; flag?: AdminFlag | ''; cursor?: string }): Promise<CallResult<AdminRollup>> {
    const q = new URLSearchParams({ limit: '100' });
    if (filters.status) q.set('status', filters.status);
    if (filters.handle) q.set('handle', filters.handle);
    if (filters.flag) q.set('flag', filters.flag);
    if (filters.cursor) q.set('cursor', filters.cursor);
    return call(this.base, 'GET', `/v2/platform-admin/group-buys?${q}`, { token: this.token() });
  }

  publicView(handle: string, slug: string): Promise<CallResult<PublicGroupBuy>> {
    return call(this.base, 'GET', `/v2/public/group-buys/${enc(handle)}/${enc(slug)}`);
  }

  draw(handle: string, slug: string): Promise<CallResult<PublicDraw>> {
    return call(this.base, 'GET', `/v2/public/group-buys/${enc(handle)}/${enc(slug)}/draw?limit=100`);
  }

  report(body: SupportReport, idempotencyKey: string): Promise<CallResult<SupportReceipt>> {
    return call(this.base, 'POST', '/v2/support/report', { token: this.token(), body, idempotencyKey });
  }
}

/** A step's body: what the API keys its Idempotency-Key on, with the path. */
export function transitionBody(t: Transition): object | undefined {
  return t.kind === 'close' ? { outcome: t.outcome } : t.kind === 'extend' ? { closesAt: t.closesAt } : undefined;
}
