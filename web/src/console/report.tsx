// "Report a problem": POST /v2/support/report with the last request ids and a repro artifact
// (the console's recent calls: method, path, status, code, request id; never a token or body).
import { useState } from 'preact/hooks';
import { Intent, recentCalls, recentFailures, type CallRecord } from '../shared/http';
import type { SupportReceipt } from '../shared/types';
import type { Api } from './api';
import { CopyButton, ProblemBox } from './ui';

function artifact(calls: CallRecord[]): string {
  const lines = calls.map((c) => `${c.at} ${c.method} ${c.path} ${c.status}${c.code ? ` ${c.code}` : ''} ${c.requestId}`);
  const text = [`page: ${location.pathname}${location.hash}`, `userAgent: ${navigator.userAgent}`, `calls (oldest first):`, ...lines].join('\n');
  return text.length > 8000 ? text.slice(text.length - 8000) : text;
}

/**
 * The recent calls with the recent failures merged in, oldest first: a failure stays
 * reportable however many calls came after it.
 */
function reportableCalls(): CallRecord[] {
  const all = [...recentCalls, ...recentFailures.filter((f) => !recentCalls.includes(f))];
  return all.filter((c) => !c.path.endsWith('/support/report')).sort((a, b) => a.at.localeCompare(b.at));
}

/** The last 20 calls, and every older failure still known. */
function artifactCalls(calls: CallRecord[]): CallRecord[] {
  const last = calls.slice(-20);
  return calls.filter((c) => last.includes(c) || c.status === 0 || c.status >= 400);
}

export function ReportForm({ api, handle }: { api: Api; handle: string | null }) {
  const [calls] = useState(reportableCalls);
  const failed = [...calls].reverse().find((c) => c.status >= 400);
  const [requestId, setRequestId] = useState(failed?.requestId || calls[calls.length - 1]?.requestId || '');
  const [repro, setRepro] = useState(() => artifact(artifactCalls(calls)));
  const [error, setError] = useState<unknown>(null);
  const [receipt, setReceipt] = useState<SupportReceipt | null>(null);
  const [busy, setBusy] = useState(false);
  // One report per intent: resending the same report after a lost answer files it once.
  const [intent] = useState(() => new Intent());

  async function submit(e: Event) {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      const body = {
        summary: String(f.get('summary') ?? '').trim(),
        details: String(f.get('details') ?? '').trim(),
        reproArtifact: repro,
        ...(handle ? { handle } : {}),
        ...(requestId ? { requestId } : {}),
      };
      const receipt = (await api.report(body, intent.key(JSON.stringify(body)))).body;
      intent.settle();
      setReceipt(receipt);
    } catch (err) {
      intent.settle(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (receipt) {
    return (
      <>
        <h1>Report a problem</h1>
        <div class="ok" role="status">
          <p>
            Report <code data-testid="report-id">{receipt.reportId}</code> received {receipt.receivedAt ? new Date(receipt.receivedAt).toLocaleString('en-IN') : ''}.{' '}
            <CopyButton text={receipt.reportId ?? ''} label="Copy report id" />
          </p>
          <p class="muted">Quote the report id when you talk to support. Request id {receipt.requestId}.</p>
        </div>
      </>
    );
  }
  return (
    <>
      <h1>Report a problem</h1>
      <form class="form" onSubmit={submit}>
        <label for="summary">Summary</label>
        <input id="summary" name="summary" required maxLength={200} />
        <label for="details">What happened, and what you expected</label>
        <textarea id="details" name="details" required maxLength={8000} rows={5} />
        <label for="request-id">Request id it is about</label>
        <select id="request-id" value={requestId} onChange={(e) => setRequestId((e.target as HTMLSelectElement).value)}>
          <option value="">none</option>
          {[...calls].reverse().map((c, i) => (
            <option key={`${c.requestId}-${i}`} value={c.requestId} disabled={!c.requestId}>
              {c.method} {c.path} → {c.status}
              {c.code ? ` ${c.code}` : ''} ({c.requestId || 'no id'})
            </option>
          ))}
        </select>
        <label for="repro">Repro artifact (sent with the report; no tokens)</label>
        <textarea id="repro" rows={8} maxLength={8000} value={repro} onInput={(e) => setRepro((e.target as HTMLTextAreaElement).value)} />
        <ProblemBox error={error} title="The report was not sent" />
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Sending…' : 'Send report'}
          </button>
        </div>
      </form>
    </>
  );
}
