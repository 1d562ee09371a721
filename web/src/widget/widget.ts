// The storefront widget (docs/web.md): one script tag defines <gharart-group-buy handle slug>,
// rendered in a shadow root (the host page's styles do not reach in, ours do not leak out),
// with no global but the element. Plain DOM: the whole widget, worker included, stays far
// under its 40 KB gzipped budget.
//
//   <script src="https://gharart.example/widget.js" defer></script>
//   <gharart-group-buy handle="acme-decor" slug="brass-lamp-drop"></gharart-group-buy>
//
// Attributes: handle, slug, api-base (default: the origin this script came from).
// A signed-in visitor: set the element's `token` property to the user's access token, or
// dispatch `new CustomEvent('gharart-token', {detail: {token}})` on window (every widget of
// the page takes it; `token: null` signs out). Without a token the widget obtains a visitor
// pass (a proof of work solved in a Web Worker) on the first write and keeps it in
// localStorage. Events (bubbling, composed): `gharart-ready` once interactive, with
// `detail.ms` (performance.now()), `gharart-change` after each write with the new state, and
// `gharart-token-expired` when the API refuses the host page's token (401).
import { ApiError, call, enc, type CallOptions } from '../shared/http';
import { count, dateTime, money, percent, relative } from '../shared/format';
import type { MyInterest, PublicGroupBuy, VisitorChallenge, VisitorPass } from '../shared/types';
import { solve } from './pow';

declare const __POW_WORKER_SOURCE__: string;

const scriptOrigin = (() => {
  const src = (document.currentScript as HTMLScriptElement | null)?.src;
  try {
    return src ? new URL(src).origin : location.origin;
  } catch {
    return location.origin;
  }
})();

const STYLE = `
:host{all:initial;display:block;contain:content;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1d1b16;--accent:#7a3e00;--accent-fg:#fff;--muted:#5b5548;--line:#d8d2c4;--ok:#1f6b2e;--bad:#a11d1d;max-width:32rem}
:host([hidden]){display:none}
*{box-sizing:border-box}
.card{border:1px solid var(--line);border-radius:10px;padding:1rem;background:#fff}
h2{font-size:1.15rem;margin:0 0 .25rem;line-height:1.3}
p{margin:.35rem 0}
.price{font-size:1.3rem;font-weight:700}
.was{color:var(--muted);text-decoration:line-through;margin-left:.4rem;font-size:.95rem;font-weight:400}
.muted{color:var(--muted);font-size:.9rem}
.bar{position:relative;height:.7rem;background:#ece7dc;border-radius:99px;overflow:hidden;margin:.5rem 0 .2rem}
.fill{position:absolute;inset:0 auto 0 0;background:var(--accent);border-radius:99px}
.mark{position:absolute;top:0;bottom:0;width:2px;background:#1d1b16}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-top:.75rem}
button{font:inherit;font-weight:600;border-radius:6px;padding:.5rem .9rem;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer;min-height:44px}
button.secondary{background:#fff;color:var(--accent)}
button[aria-disabled=true]{opacity:.6;cursor:progress}
.live:empty{padding:0;margin:0}
.live:focus{outline:none}
button:focus-visible,select:focus-visible,a:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
select{font:inherit;padding:.4rem;border-radius:6px;border:1px solid var(--muted);min-height:44px;background:#fff;color:inherit}
label{font-weight:600}
.state{margin-top:.75rem;padding:.5rem .75rem;border-radius:6px;background:#f3efe6}
.error{margin-top:.75rem;padding:.5rem .75rem;border-radius:6px;background:#fbeaea;color:var(--bad)}
.badge{display:inline-block;font-size:.8rem;font-weight:700;padding:.1rem .5rem;border-radius:99px;background:#ece7dc;color:#1d1b16;vertical-align:middle}
a{color:var(--accent)}
code{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
`;

function units(n: number | undefined): string {
  const q = n ?? 1;
  return `${count(q)} ${q === 1 ? 'unit' : 'units'}`;
}

const PASS_KEY = 'gharart.visitor-pass';

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface StoredPass {
  visitorPass: string;
  expiresAt: string;
}

// One pass per API origin for the whole page, however many widgets it holds.
const passes = new Map<string, Promise<string>>();

function storedPass(base: string): string | null {
  try {
    const raw = localStorage.getItem(`${PASS_KEY}:${base}`);
    if (!raw) return null;
    const p = JSON.parse(raw) as StoredPass;
    if (new Date(p.expiresAt).getTime() - Date.now() < 3600_000) return null;
    return p.visitorPass;
  } catch {
    return null;
  }
}

function forgetPass(base: string) {
  passes.delete(base);
  try {
    localStorage.removeItem(`${PASS_KEY}:${base}`);
  } catch {
    /* storage blocked: nothing kept */
  }
}

function solveInWorker(salt: string, difficulty: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    let url = '';
    try {
      url = URL.createObjectURL(new Blob([__POW_WORKER_SOURCE__], { type: 'text/javascript' }));
      worker = new Worker(url);
    } catch (e) {
      if (url) URL.revokeObjectURL(url);
      reject(e);
      return;
    }
    const done = () => {
      worker.terminate();
      URL.revokeObjectURL(url);
    };
    worker.onmessage = (e: MessageEvent<{ nonce?: string; error?: string }>) => {
      done();
      if (e.data.nonce !== undefined) resolve(e.data.nonce);
      else reject(new Error(e.data.error || 'worker failed'));
    };
    worker.onerror = (e) => {
      done();
      e.preventDefault();
      reject(new Error('worker failed'));
    };
    worker.postMessage({ salt, difficulty });
  });
}

async function obtainPass(base: string): Promise<string> {
  const kept = storedPass(base);
  if (kept) return kept;
  const challenge = (await call<VisitorChallenge>(base, 'POST', '/v2/public/visitor-challenges')).body;
  let nonce: string;
  try {
    nonce = await solveInWorker(challenge.salt, challenge.difficulty);
  } catch {
    // A host page whose policy forbids blob: workers: the same work, in small async batches.
    nonce = await solve(challenge.salt, challenge.difficulty);
  }
  const pass = (
    await call<VisitorPass>(base, 'POST', '/v2/public/visitor-passes', {
      body: { challenge: challenge.challenge, nonce },
      idempotent: true,
    })
  ).body;
  try {
    localStorage.setItem(`${PASS_KEY}:${base}`, JSON.stringify(pass));
  } catch {
    /* storage blocked: the pass lives as long as the page */
  }
  return pass.visitorPass as string;
}

function visitorPass(base: string): Promise<string> {
  let p = passes.get(base);
  if (!p) {
    p = obtainPass(base);
    passes.set(base, p);
    p.catch(() => passes.delete(base));
  }
  return p;
}

type Mine = MyInterest | null;

/** What a write did, in the visitor's words (the live region announces it). */
function outcomeText(action: 'register' | 'waitlist' | 'withdraw', result: Mine): string {
  if (action === 'withdraw') return 'You have withdrawn.';
  if (result?.entry) return 'You are entered in the draw.';
  if (result?.waitlist) return `You are on the waitlist, position ${result.waitlist.position}.`;
  return 'Your interest is registered.';
}

class GharartGroupBuy extends HTMLElement {
  static observedAttributes = ['handle', 'slug', 'api-base'];
  private root: ShadowRoot;
  private gb: PublicGroupBuy | null = null;
  private mine: Mine = null;
  private loadError: ApiError | null = null;
  private error: ApiError | null = null;
  private busy = '';
  /** Why the visitor's own state is not shown (my-interest failed), or ''. */
  private mineNotice = '';
  /** The card's changing part: re-rendered whole, inside `card`. */
  private body: HTMLDivElement;
  private card: HTMLDivElement;
  /**
   * The one live region, created once and outside what re-renders: a screen reader announces
   * a region whose text changes, not one that is replaced with its text already in it.
   */
  private live: HTMLParagraphElement;
  private quantity = 1;
  private _token: string | null = null;
  private ready = false;
  private timer = 0;
  private onToken = (e: Event) => {
    const detail = (e as CustomEvent<{ token?: string | null }>).detail;
    this.token = detail?.token ?? null;
  };

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.card = document.createElement('div');
    this.card.className = 'card';
    this.body = document.createElement('div');
    this.live = document.createElement('p');
    this.live.className = 'state live';
    this.live.setAttribute('aria-live', 'polite');
    this.live.setAttribute('data-part', 'live');
    // The focus's last resort after a re-render removed the focused control (focusable even
    // when empty: it is only shrunk then, never display:none).
    this.live.tabIndex = -1;
    this.card.append(this.body, this.live);
    this.root.append(style, this.card);
    this.root.addEventListener('click', (e) => this.onClick(e));
    this.root.addEventListener('change', (e) => {
      const t = e.target as HTMLSelectElement;
      if (t.name === 'quantity') this.quantity = Number(t.value) || 1;
    });
  }

  get token(): string | null {
    return this._token;
  }
  set token(value: string | null) {
    if (value === this._token) return;
    this._token = value || null;
    this.queueLoad();
  }

  private get base(): string {
    return (this.getAttribute('api-base') || scriptOrigin).replace(/\/+$/, '');
  }
  private get path(): string {
    return `/v2/public/group-buys/${enc(this.getAttribute('handle') || '')}/${enc(this.getAttribute('slug') || '')}`;
  }

  private loadQueued = false;
  /** One load for any number of changes in the same task (an upgrade reports every attribute). */
  private queueLoad() {
    if (this.loadQueued) return;
    this.loadQueued = true;
    queueMicrotask(() => {
      this.loadQueued = false;
      if (this.isConnected) void this.load();
    });
  }

  connectedCallback() {
    window.addEventListener('gharart-token', this.onToken);
    this.queueLoad();
    this.timer = window.setInterval(() => {
      if (document.visibilityState === 'visible' && !this.busy) void this.refreshGroupBuy();
    }, 30_000);
  }

  disconnectedCallback() {
    window.removeEventListener('gharart-token', this.onToken);
    clearInterval(this.timer);
  }

  attributeChangedCallback(_name: string, old: string | null, value: string | null) {
    if (old !== value) this.queueLoad();
  }

  /** Credentials for my-interest: the signed-in user's token, else the visitor pass (made on demand). */
  private async credentials(create: boolean): Promise<CallOptions | null> {
    if (this._token) return { token: this._token };
    if (!create) {
      const kept = storedPass(this.base);
      return kept ? { visitorPass: kept } : null;
    }
    return { visitorPass: await visitorPass(this.base) };
  }

  private async refreshGroupBuy() {
    try {
      this.gb = (await call<PublicGroupBuy>(this.base, 'GET', this.path)).body;
      this.render();
    } catch {
      /* the next refresh tries again */
    }
  }

  private async load() {
    if (!this.getAttribute('handle') || !this.getAttribute('slug')) return;
    this.loadError = null;
    // Settled apart: the group-buy shows even when the visitor's own state cannot be read.
    const [gb, mine] = await Promise.allSettled([call<PublicGroupBuy>(this.base, 'GET', this.path).then((r) => r.body), this.fetchMine()]);
    if (gb.status === 'fulfilled') this.gb = gb.value;
    else if (gb.reason instanceof ApiError) this.loadError = gb.reason;
    else throw gb.reason;
    if (mine.status === 'fulfilled') this.takeMine(mine.value);
    else this.mineFailed(mine.reason);
    this.render();
    if (!this.ready) {
      this.ready = true;
      this.setAttribute('data-ready', '');
      this.dispatchEvent(new CustomEvent('gharart-ready', { bubbles: true, composed: true, detail: { ms: performance.now() } }));
    }
  }

  private takeMine(mine: Mine) {
    this.mine = mine;
    this.mineNotice = '';
    const q = mine?.interest?.quantity ?? mine?.waitlist?.quantity ?? mine?.entry?.quantity;
    if (q) this.quantity = q;
  }

  /** my-interest failed: say so; an expired host token is the host page's to renew. */
  private mineFailed(e: unknown) {
    this.mine = null;
    if (e instanceof ApiError && e.status === 401 && this._token) {
      this.mineNotice = 'Sign in again to see your interest.';
      this.dispatchEvent(new CustomEvent('gharart-token-expired', { bubbles: true, composed: true }));
    } else {
      this.mineNotice = 'Your own interest could not be read just now.';
    }
  }

  private async fetchMine(): Promise<Mine> {
    const creds = await this.credentials(false);
    if (!creds) return null;
    try {
      return (await call<MyInterest>(this.base, 'GET', `${this.path}/my-interest`, creds)).body;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'INTEREST_NOT_FOUND') return null;
      if (e instanceof ApiError && e.code === 'VISITOR_PASS_INVALID') {
        forgetPass(this.base);
        return null;
      }
      throw e;
    }
  }

  private async write(action: 'register' | 'waitlist' | 'withdraw', label: string) {
    this.busy = label;
    this.error = null;
    this.say(`${label}…`);
    this.render();
    const attempt = async () => {
      const creds = await this.credentials(true);
      if (action === 'withdraw') {
        await call(this.base, 'DELETE', `${this.path}/my-interest`, creds!);
        return null;
      }
      const body: { quantity: number; waitlist?: boolean } = { quantity: this.quantity };
      if (action === 'waitlist') body.waitlist = true;
      return (await call<MyInterest>(this.base, 'PUT', `${this.path}/my-interest`, { ...creds!, body })).body;
    };
    let outcome = '';
    try {
      let result: Mine;
      try {
        result = await attempt();
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 'VISITOR_PASS_INVALID' && !this._token)) throw e;
        forgetPass(this.base);
        result = await attempt();
      }
      this.takeMine(result);
      if (result?.groupBuy) this.gb = result.groupBuy;
      outcome = outcomeText(action, result);
      // Exact counters: the write's view may be a few seconds old (openapi.yaml, Interest).
      await this.refreshGroupBuy();
      this.dispatchEvent(new CustomEvent('gharart-change', { bubbles: true, composed: true, detail: { action, mine: result } }));
    } catch (e) {
      this.error = e instanceof ApiError ? e : new ApiError(0, { type: 'about:blank', title: 'Error', status: 0, detail: String(e), code: 'CLIENT', requestId: '' }, '');
      outcome = `Not done: ${this.error.message}`;
    } finally {
      this.busy = '';
      this.say(outcome);
      this.render();
    }
  }

  /** The live region's text: set, never re-created, so that it is announced. */
  private say(text: string) {
    this.live.textContent = text;
  }

  private onClick(e: Event) {
    const button = (e.target as HTMLElement).closest('button[data-act]') as HTMLButtonElement | null;
    if (!button || this.busy) return;
    const act = button.dataset.act as 'register' | 'waitlist' | 'withdraw' | 'retry';
    if (act === 'retry') void this.load();
    else void this.write(act, button.textContent || act);
  }

  private quantitySelect(max: number): string {
    if (max <= 1) return '';
    const options = Array.from({ length: max }, (_, i) => i + 1)
      .map((n) => `<option value="${n}"${n === this.quantity ? ' selected' : ''}>${n}</option>`)
      .join('');
    return `<label for="q">Quantity</label><select id="q" name="quantity">${options}</select>`;
  }

  private actions(gb: PublicGroupBuy): string {
    const mine = this.mine;
    // Not `disabled`: that would drop the focus of the button just pressed. Clicks while busy
    // are ignored (onClick).
    const busy = this.busy ? ' aria-disabled="true"' : '';
    const btn = (act: string, text: string, secondary = false) =>
      `<button type="button" data-act="${act}"${secondary ? ' class="secondary"' : ''}${busy}>${esc(text)}</button>`;
    const max = gb.maxQuantityPerParticipant ?? 1;
    const now = Date.now();
    const beforeDeadline = !gb.closesAt || new Date(gb.closesAt).getTime() > now;
    const open = gb.status === 'published' && beforeDeadline;
    const canWithdraw = (gb.status === 'published' || gb.status === 'paused') && beforeDeadline;
    const parts: string[] = [];
    let state = '';

    if (gb.participation === 'signed-in' && !this._token && !mine) {
      return `<p class="state">Sign in on this store to join this group-buy.</p>`;
    }
    if (gb.allocation === 'draw' && gb.draw) {
      const drawn = !!gb.draw.drawnAt;
      const due = gb.drawAt && new Date(gb.drawAt).getTime() <= now;
      const entry = mine?.entry;
      if (entry) {
        state =
          entry.result === 'pending'
            ? `You are entered in the draw with ${units(entry.quantity)}. Ticket <code>${esc(entry.ticket)}</code>.`
            : entry.result === 'won'
              ? `You won a place in the draw (ticket <code>${esc(entry.ticket)}</code>).`
              : entry.result === 'waitlisted'
                ? `The draw put you on the waitlist${mine?.waitlist ? `, position ${count(mine.waitlist.position)}` : ''} (ticket <code>${esc(entry.ticket)}</code>).`
                : `The draw did not pick your ticket <code>${esc(entry.ticket)}</code>.`;
      }
      if (mine?.interest && entry?.result !== 'won') state += ` You have a place: ${units(mine.interest.quantity)}.`;
      if (!drawn && !due && open) {
        parts.push(this.quantitySelect(max));
        parts.push(btn('register', entry ? 'Change quantity' : 'Enter the draw'));
        if (entry) parts.push(btn('withdraw', 'Leave the draw', true));
      } else if (!drawn) {
        state ||= 'Entries are closed; the draw runs shortly.';
      } else {
        if (open && !mine?.interest && !mine?.waitlist && !entry) {
          parts.push(this.quantitySelect(max));
          parts.push(btn('waitlist', 'Join the waitlist'));
        } else if (open && (mine?.interest || mine?.waitlist)) {
          if (mine?.interest) {
            parts.push(this.quantitySelect(max));
            parts.push(btn('register', 'Change quantity'));
          }
          parts.push(btn('withdraw', mine?.interest ? 'Withdraw' : 'Leave the waitlist', true));
        }
      }
    } else if (mine?.interest) {
      state = `You are in: ${units(mine.interest.quantity)}, since ${esc(dateTime(mine.interest.createdAt))}.`;
      if (open) {
        parts.push(this.quantitySelect(max));
        parts.push(btn('register', 'Change quantity'));
      }
      if (canWithdraw) parts.push(btn('withdraw', 'Withdraw', true));
    } else if (mine?.waitlist) {
      state = `You are on the waitlist, position ${count(mine.waitlist.position)} (${units(mine.waitlist.quantity)}).`;
      if (canWithdraw) parts.push(btn('withdraw', 'Leave the waitlist', true));
    } else if (open) {
      const full = gb.maxParticipants != null && (gb.participantCount ?? 0) >= gb.maxParticipants;
      parts.push(this.quantitySelect(max));
      parts.push(full ? btn('waitlist', 'Join the waitlist') : btn('register', 'Register interest'));
    }
    const row = parts.filter(Boolean).join('');
    return `${state ? `<p class="state">${state}</p>` : ''}${row ? `<div class="row">${row}</div>` : ''}`;
  }

  /** Re-renders the card's body, the focus kept on the same control (or the live region). */
  private render() {
    const focus = this.focusTarget();
    const card = this.card;
    card.toggleAttribute('aria-busy', !this.gb && !this.loadError);
    if (this.gb || this.loadError) {
      card.setAttribute('role', 'region');
      card.setAttribute('aria-label', this.gb ? `Group-buy: ${this.gb.title}` : 'Group-buy');
    }
    this.body.innerHTML = this.gb ? this.cardHtml(this.gb) : this.placeholderHtml();
    if (focus !== null) ((focus && this.body.querySelector<HTMLElement>(focus)) || this.live).focus();
  }

  /**
   * A selector for the focused control, found again after innerHTML replaced it: by its
   * action or its name (the quantity select). '' when the focus is in the body on something
   * else; null when it is not in the body (nothing to restore).
   */
  private focusTarget(): string | null {
    const el = this.root.activeElement as HTMLElement | null;
    if (!el || !this.body.contains(el)) return null;
    if (el.dataset.act) return `[data-act="${el.dataset.act}"]`;
    const name = el.getAttribute('name');
    return name ? `[name="${name}"]` : '';
  }

  private placeholderHtml(): string {
    if (!this.loadError) return `<p class="muted">Loading group-buy…</p>`;
    const missing = this.loadError.status === 404;
    return `<p class="error" role="alert">${missing ? 'This group-buy is not available.' : esc(this.loadError.message)}</p>${
      missing ? '' : '<div class="row"><button type="button" data-act="retry">Try again</button></div>'
    }`;
  }

  private cardHtml(gb: PublicGroupBuy): string {
    const currency = gb.currency || 'INR';
    const price = gb.currentUnitPriceMinor ?? gb.unitPriceMinor ?? 0;
    const participants = gb.participantCount ?? 0;
    const min = gb.minParticipants ?? 1;
    const cap = gb.maxParticipants ?? null;
    const scale = cap ?? Math.max(min, participants);
    const isDraw = gb.allocation === 'draw';
    const status =
      gb.status === 'closed'
        ? gb.closeOutcome === 'fulfilled'
          ? 'Closed: it is happening'
          : gb.closeOutcome === 'cancelled'
            ? 'Closed: cancelled'
            : 'Closed: the threshold was not met'
        : gb.status === 'paused'
          ? 'Paused: registrations are on hold'
          : gb.thresholdMet
            ? 'Threshold met'
            : 'Open';
    const next = gb.nextTier
      ? `<p class="muted">${count(gb.nextTier.participantsNeeded)} more ${gb.nextTier.participantsNeeded === 1 ? 'participant' : 'participants'} and the price drops to ${esc(money(gb.nextTier.unitPriceMinor, currency))}.</p>`
      : '';
    const progressText = isDraw && !gb.draw?.drawnAt
      ? `${count(gb.draw?.entryCount ?? 0)} entered for ${count(cap ?? 0)} places; the draw is ${esc(dateTime(gb.drawAt))}`
      : `${count(participants)} of ${count(min)} needed${cap ? `, ${count(cap)} places` : ''}`;
    const fill = isDraw && !gb.draw?.drawnAt ? percent(gb.draw?.entryCount ?? 0, cap ?? 1) : percent(participants, scale);
    const verify =
      isDraw && gb.draw?.drawnAt
        ? `<p><a data-act="verify" href="${esc(this.base)}/verify-draw.html?handle=${enc(gb.handle || '')}&amp;slug=${enc(gb.slug || '')}${
            this.mine?.entry ? `&amp;ticket=${enc(this.mine.entry.ticket)}` : ''
          }" target="_blank" rel="noopener">Verify the draw</a> <span class="muted">(drawn ${esc(dateTime(gb.draw.drawnAt))}, commitment <code>${esc(
            (gb.draw.commitment || '').slice(0, 16),
          )}…</code>)</span></p>`
        : isDraw && gb.draw?.commitment
          ? `<p class="muted">Fair draw: commitment <code>${esc(gb.draw.commitment.slice(0, 16))}…</code></p>`
          : '';
    // The outcome of a write is not here but in the live region (say()); its error box is not
    // an alert either, so that it is announced once.
    return `<h2>${esc(gb.title)} <span class="badge">${esc(status)}</span></h2>
<p><span class="price">${esc(money(price, currency))}</span>${price !== gb.unitPriceMinor ? `<span class="was">${esc(money(gb.unitPriceMinor ?? 0, currency))}</span>` : ''} <span class="muted">per unit</span></p>
${next}
<div class="bar" role="progressbar" aria-label="Participants" aria-valuemin="0" aria-valuemax="${scale}" aria-valuenow="${isDraw && !gb.draw?.drawnAt ? gb.draw?.entryCount ?? 0 : participants}" aria-valuetext="${esc(progressText)}"><div class="fill" style="width:${fill}%"></div>${
      cap && min < cap && !isDraw ? `<div class="mark" style="left:${percent(min, cap)}%"></div>` : ''
    }</div>
<p class="muted" data-part="progress">${progressText}</p>
${gb.closesAt ? `<p class="muted">${gb.status === 'closed' ? 'Closed' : 'Closes'} ${esc(dateTime(gb.closesAt))}${gb.status === 'closed' ? '' : ` (${esc(relative(gb.closesAt))})`}</p>` : ''}
${verify}
${this.mineNotice ? `<p class="muted" data-part="mine-notice">${esc(this.mineNotice)}</p>` : ''}
${this.actions(gb)}
${this.error ? `<div class="error">${esc(this.error.message)}${this.error.requestId ? `<br><span class="muted">Request id <code>${esc(this.error.requestId)}</code></span>` : ''}</div>` : ''}`;
  }
}

if (!customElements.get('gharart-group-buy')) customElements.define('gharart-group-buy', GharartGroupBuy);
