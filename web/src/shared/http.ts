// One fetch for every API call of the console and the widget: problem+json errors become
// ApiError (with the API's own `detail`), every call's request id is recorded, writes carry an
// Idempotency-Key (one per user intent, see Intent), transitions an If-Match. Tokens go in
// headers only, never in a URL or a log.
import type { Problem } from './types';

export interface CallRecord {
  at: string;
  method: string;
  path: string;
  status: number;
  requestId: string;
  code?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly requestId: string,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
  get code(): string {
    return this.problem.code;
  }
}

export interface CallOptions {
  token?: string | null;
  visitorPass?: string | null;
  body?: unknown;
  ifMatch?: string | null;
  /** A fresh Idempotency-Key (POSTs with no retry of their own). */
  idempotent?: boolean;
  /** This Idempotency-Key: a retry of the same intent sends the same one (Intent.key). */
  idempotencyKey?: string;
  /**
   * A periodic refresh nobody asked for: kept out of recentCalls, so that polling does not push
   * the calls a user may want to report out of the ring (a failure is still kept in
   * recentFailures).
   */
  background?: boolean;
  accept?: string;
}

export interface CallResult<T> {
  status: number;
  body: T;
  etag: string | null;
  requestId: string;
  headers: Headers;
}

type Listener = (record: CallRecord) => void;
const listeners = new Set<Listener>();
/** The last calls, newest last (the console's request log and the support report). */
export const recentCalls: CallRecord[] = [];
/** The last failed calls, newest last: the support report always includes them. */
export const recentFailures: CallRecord[] = [];

export function onCall(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function push(ring: CallRecord[], r: CallRecord, size: number) {
  ring.push(r);
  if (ring.length > size) ring.shift();
}

function record(r: CallRecord, background = false) {
  if (!background) push(recentCalls, r, 50);
  if (r.status === 0 || r.status >= 400) push(recentFailures, r, 10);
  for (const l of listeners) l(r);
}

export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function call<T>(base: string, method: string, path: string, o: CallOptions = {}): Promise<CallResult<T>> {
  const headers: Record<string, string> = { accept: o.accept || 'application/json' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  else if (o.visitorPass) headers['x-visitor-pass'] = o.visitorPass;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.ifMatch) headers['if-match'] = o.ifMatch;
  if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
  else if (o.idempotent) headers['idempotency-key'] = newKey();
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    const problem = {
      type: 'about:blank',
      title: 'Network error',
      status: 0,
      detail: 'The API could not be reached. Check the connection and try again.',
      code: 'NETWORK',
      requestId: '',
    } as Problem;
    record({ at: new Date().toISOString(), method, path: path.split('?')[0], status: 0, requestId: '', code: 'NETWORK' }, o.background);
    throw new ApiError(0, problem, '');
  }
  const requestId = res.headers.get('x-request-id') || '';
  const type = res.headers.get('content-type') || '';
  let body: unknown = null;
  if (res.status !== 204) {
    if (type.includes('json')) body = await res.json().catch(() => null);
    else body = await res.text();
  }
  const rec: CallRecord = { at: new Date().toISOString(), method, path: path.split('?')[0], status: res.status, requestId };
  if (!res.ok) {
    const p = (body && typeof body === 'object' ? body : {}) as Partial<Problem>;
    const problem = {
      type: p.type || 'about:blank',
      title: p.title || res.statusText || 'Error',
      status: res.status,
      detail: p.detail || p.title || `HTTP ${res.status}`,
      code: p.code || `HTTP_${res.status}`,
      requestId: p.requestId || requestId,
      ...p,
    } as Problem;
    rec.code = problem.code;
    record(rec, o.background);
    throw new ApiError(res.status, problem, problem.requestId || requestId);
  }
  record(rec, o.background);
  return { status: res.status, body: body as T, etag: res.headers.get('etag'), requestId, headers: res.headers };
}

/**
 * Did the API give a definitive answer? A 2xx or a 4xx other than 429 is kept by the API
 * against its Idempotency-Key; a network failure, a 429 or a 5xx is not, so the outcome is
 * unknown and a retry must carry the same key (API.md, "Idempotency and limits").
 */
export function definitive(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status >= 400 && error.status < 500 && error.status !== 429;
}

/**
 * One Idempotency-Key per user intent, not per attempt: the same action with the same body,
 * tried again after an unknown outcome, reuses the key (the API replays the first answer
 * rather than acting twice); another action or body, or any definitive answer, starts afresh.
 */
export class Intent {
  private current: { what: string; key: string } | null = null;

  /** The key for `what` (the action and its body, as one string). */
  key(what: string): string {
    if (this.current?.what !== what) this.current = { what, key: newKey() };
    return this.current.key;
  }

  /** After an attempt: `error` undefined for a success. */
  settle(error?: unknown) {
    if (error === undefined || definitive(error)) this.current = null;
  }
}

export const enc = encodeURIComponent;
