// One fetch for every API call of the console and the widget: problem+json errors become
// ApiError (with the API's own `detail`), every call's request id is recorded, writes carry a
// fresh Idempotency-Key, transitions an If-Match. Tokens go in headers only, never in a URL
// or a log.
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
  /** A fresh Idempotency-Key (POSTs). */
  idempotent?: boolean;
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

export function onCall(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function record(r: CallRecord) {
  recentCalls.push(r);
  if (recentCalls.length > 50) recentCalls.shift();
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
  if (o.idempotent) headers['idempotency-key'] = newKey();
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
    record({ at: new Date().toISOString(), method, path: path.split('?')[0], status: 0, requestId: '', code: 'NETWORK' });
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
    record(rec);
    throw new ApiError(res.status, problem, problem.requestId || requestId);
  }
  record(rec);
  return { status: res.status, body: body as T, etag: res.headers.get('etag'), requestId, headers: res.headers };
}

export const enc = encodeURIComponent;
