// Small pieces shared by the console's pages.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../shared/http';
import { count, dateTime, percent, relative } from '../shared/format';
import type { GroupBuy } from '../shared/types';

export function StatusBadge({ gb }: { gb: Pick<GroupBuy, 'status' | 'closeOutcome'> }) {
  const text = gb.status === 'closed' && gb.closeOutcome ? `closed: ${gb.closeOutcome}` : gb.status ?? 'unknown';
  return <span class={`badge badge-${gb.status}`}>{text}</span>;
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="link"
      aria-label={`${label} ${text}`}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          const t = document.createElement('textarea');
          t.value = text;
          document.body.append(t);
          t.select();
          document.execCommand('copy');
          t.remove();
        }
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

/** A refused or failed call: the API's own detail, its code and request id. */
export function ProblemBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  if (!(error instanceof ApiError)) {
    return (
      <div class="problem" role="alert">
        <strong>{title ?? 'Something went wrong'}</strong>
        <p>{String((error as Error)?.message ?? error)}</p>
      </div>
    );
  }
  const p = error.problem;
  return (
    <div class="problem" role="alert" data-code={p.code}>
      <strong>{title ?? p.title}</strong>
      <p class="detail">{p.detail}</p>
      {p.code === 'THRESHOLD_NOT_MET' && p.participantCount !== undefined ? (
        <p class="counts">
          Participants: <strong>{count(p.participantCount)}</strong> · threshold: <strong>{count(p.minParticipants ?? 0)}</strong> · short by{' '}
          <strong>{count(Math.max(0, (p.minParticipants ?? 0) - p.participantCount))}</strong>
        </p>
      ) : null}
      {p.errors?.length ? (
        <ul>
          {p.errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <p class="meta">
        <code>{p.code}</code> · HTTP {error.status}
        {error.requestId ? (
          <>
            {' '}
            · request id <code>{error.requestId}</code> <CopyButton text={error.requestId} label="Copy id" />
          </>
        ) : null}
      </p>
    </div>
  );
}

export function Progress({ participants, min, cap, label }: { participants: number; min: number; cap?: number | null; label?: string }) {
  const scale = cap ?? Math.max(min, participants, 1);
  const text = `${count(participants)} of ${count(min)} to the threshold${cap ? `, cap ${count(cap)}` : ''}`;
  return (
    <div class="progress-wrap">
      <div class="progress" role="progressbar" aria-label={label ?? 'Participants'} aria-valuemin={0} aria-valuemax={scale} aria-valuenow={participants} aria-valuetext={text}>
        <div class={`fill${participants >= min ? ' met' : ''}`} style={{ width: `${percent(participants, scale)}%` }} />
        {cap && min < cap ? <div class="mark" style={{ left: `${percent(min, cap)}%` }} title="Threshold" /> : null}
      </div>
      <div class="progress-text">{text}</div>
    </div>
  );
}

export function Deadline({ at, closed }: { at?: string | null; closed?: boolean }) {
  if (!at) return <span class="muted">no deadline</span>;
  return (
    <span>
      <time dateTime={at}>{dateTime(at)}</time>
      {closed ? null : <span class="muted"> ({relative(at)})</span>}
    </span>
  );
}

/** What the owner should do next; a draft never published says so first (the guide's most common failure). */
export function nextStep(gb: GroupBuy): { text: string; urgent: boolean } {
  const now = Date.now();
  const participants = gb.participantCount ?? 0;
  const min = gb.minParticipants ?? 0;
  if (gb.status === 'draft' && !gb.publishedAt) {
    return { text: 'Never published: visitors cannot see this draft or register. Publish it to open registrations.', urgent: true };
  }
  if (gb.status === 'draft') return { text: 'Draft: publish it to open registrations.', urgent: true };
  if (gb.status === 'closed') {
    return {
      text:
        gb.closeOutcome === 'fulfilled'
          ? 'Closed as fulfilled: fulfil the orders of the participants (download the CSV).'
          : gb.closeOutcome === 'cancelled'
            ? 'Closed as cancelled: nothing left to do.'
            : 'Expired below the threshold: nothing left to do.',
      urgent: false,
    };
  }
  const deadlinePassed = gb.closesAt && new Date(gb.closesAt).getTime() <= now;
  if (deadlinePassed) return { text: 'The deadline has passed: the scheduled close runs within a minute.', urgent: true };
  if (gb.status === 'paused') return { text: 'Paused: registrations are on hold. Publish to reopen them.', urgent: true };
  if (gb.allocation === 'draw' && gb.draw && !gb.draw.drawnAt) {
    if (gb.drawAt && new Date(gb.drawAt).getTime() <= now) return { text: 'Entries are closed: run the draw now (or wait for the schedule).', urgent: true };
    return { text: `Taking draw entries until ${dateTime(gb.drawAt)}: share the storefront page.`, urgent: false };
  }
  if (participants >= min) return { text: 'Threshold met: close as fulfilled when you are ready, or keep taking registrations.', urgent: false };
  return { text: `Published: ${count(min - participants)} more participants needed. Share the storefront page${gb.closesAt ? ', or extend the deadline' : ''}.`, urgent: false };
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" aria-labelledby={id ? `${id}-h` : undefined} id={id}>
      <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
      {children}
    </section>
  );
}
