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

export class Api {
  constructor(
    private base: string,
    private token: () => string | null,
  ) {}

  private owner(handle: string, slug?: string): string {
    return `/v2/handles/${enc(handle)}/group-buys${slug ? `/${enc(slug)}` : ''}`;
  }

  list(handle: string, status?: Status): Promise<CallResult<GroupBuyList>> {
    return call(this.base, 'GET', `${this.owner(handle)}?limit=100${status ? `&status=${status}` : ''}`, { token: this.token() });
  }

  create(handle: string, body: NewGroupBuy): Promise<CallResult<GroupBuy>> {
    return call(this.base, 'POST', this.owner(handle), { token: this.token(), body, idempotent: true });
  }

  get(handle: string, slug: string, history = false): Promise<CallResult<GroupBuyWithHistory>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}${history ? '?include=history' : ''}`, { token: this.token() });
  }

  /** The history entries before `cursor` (the `historyNextCursor` of a later page). */
  history(handle: string, slug: string, cursor: string): Promise<CallResult<GroupBuyWithHistory>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}?include=history&historyCursor=${enc(cursor)}`, { token: this.token() });
  }

  /**
   * The guide's first debugging rule: read the current state, then act on that version only
   * (If-Match with the ETag just read, a fresh Idempotency-Key).
   */
  async transition(handle: string, slug: string, t: Transition): Promise<CallResult<GroupBuy>> {
    const current = await this.get(handle, slug);
    const body = t.kind === 'close' ? { outcome: t.outcome } : t.kind === 'extend' ? { closesAt: t.closesAt } : undefined;
    return call(this.base, 'POST', `${this.owner(handle, slug)}/${t.kind}`, {
      token: this.token(),
      body,
      ifMatch: current.etag,
      idempotent: true,
    });
  }

  interests(handle: string, slug: string): Promise<CallResult<InterestList>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}/interests?limit=100`, { token: this.token() });
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

  stats(handle: string, slug: string): Promise<CallResult<Stats>> {
    return call(this.base, 'GET', `${this.owner(handle, slug)}/stats`, { token: this.token() });
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

  report(body: SupportReport): Promise<CallResult<SupportReceipt>> {
    return call(this.base, 'POST', '/v2/support/report', { token: this.token(), body, idempotent: true });
  }
}
