// One group-buy: state, transitions (each on the version the owner saw: a fresh read first, no
// step if it moved, then If-Match with the seen ETag and the intent's Idempotency-Key), the
// refused step's own detail, the draw, the chart, the participants
// (CSV download), the history, and how to embed the widget.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, Intent } from '../shared/http';
import { count, dateTime, money } from '../shared/format';
import type { GroupBuyWithHistory, HistoryEntry, InterestList, Stats } from '../shared/types';
import { StaleError, transitionBody, type Api, type Transition } from './api';
import { StatsChart } from './chart';
import { CopyButton, Deadline, nextStep, ProblemBox, Progress, Section, StatusBadge } from './ui';

function localInput(iso: string | null | undefined, addDays: number): string {
  const d = new Date(iso ? new Date(iso).getTime() + addDays * 86400_000 : Date.now() + addDays * 86400_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function CampaignView({ api, handle, slug }: { api: Api; handle: string; slug: string }) {
  const [gb, setGb] = useState<GroupBuyWithHistory | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [statsError, setStatsError] = useState<unknown>(null);
  const [people, setPeople] = useState<InterestList | null>(null);
  const [busy, setBusy] = useState('');
  const [outcome, setOutcome] = useState<{ ok?: string; stale?: string; error?: unknown } | null>(null);
  // After a step, focus goes to its outcome, so a keyboard or screen-reader user hears it.
  const outcomeBox = useRef<HTMLDivElement>(null);
  // A step pressed again after a lost answer (network, 429, 5xx) reuses its Idempotency-Key.
  const [intent] = useState(() => new Intent());
  const [extendTo, setExtendTo] = useState('');
  const [refreshedAt, setRefreshedAt] = useState<Date | null>(null);
  const [older, setOlder] = useState<{ entries: HistoryEntry[]; cursor: string | null } | null>(null);

  /** `background`: the 10 s poll, kept out of the recent calls a report picks from. */
  const refresh = useCallback(async (background = false) => {
    const o = { background };
    try {
      const r = await api.get(handle, slug, true, o);
      setGb(r.body);
      setEtag(r.etag);
      setLoadError(null);
      setRefreshedAt(new Date());
    } catch (e) {
      setLoadError(e);
      return;
    }
    const [s, p] = await Promise.allSettled([api.stats(handle, slug, o), api.interests(handle, slug, o)]);
    if (s.status === 'fulfilled') {
      setStats(s.value.body);
      setStatsError(null);
    } else setStatsError(s.reason);
    if (p.status === 'fulfilled') setPeople(p.value.body);
  }, [api, handle, slug]);

  useEffect(() => {
    setGb(null);
    void refresh();
    const t = setInterval(() => document.visibilityState === 'visible' && void refresh(true), 10_000);
    return () => clearInterval(t);
  }, [refresh]);

  useEffect(() => {
    if (gb && !extendTo) setExtendTo(localInput(gb.closesAt, 7));
  }, [gb, extendTo]);

  async function act(label: string, t: Transition) {
    setBusy(label);
    setOutcome(null);
    try {
      // The API keys a request on its path and body: the same step of the same group-buy.
      const key = intent.key(JSON.stringify([handle, slug, t.kind, transitionBody(t)]));
      const r = await api.transition(handle, slug, t, etag, key);
      intent.settle();
      setOutcome({ ok: `${label}: done (version ${r.body.version}, request id ${r.requestId}).` });
    } catch (e) {
      intent.settle(e);
      setOutcome(e instanceof StaleError ? { stale: e.message } : { error: e });
    } finally {
      setBusy('');
      await refresh();
      outcomeBox.current?.focus();
    }
  }

  async function loadOlderHistory() {
    const cursor = older ? older.cursor : gb?.historyNextCursor;
    if (!cursor) return;
    try {
      const r = await api.history(handle, slug, cursor);
      setOlder({ entries: [...(r.body.history ?? []), ...(older?.entries ?? [])], cursor: r.body.historyNextCursor ?? null });
    } catch (e) {
      setOutcome({ error: e });
    }
  }

  async function downloadCsv() {
    setBusy('Download CSV');
    try {
      const csv = await api.interestsCsv(handle, slug);
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${handle}-${slug}-participants.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setOutcome({ error: e });
    } finally {
      setBusy('');
    }
  }

  if (loadError && !gb) {
    return (
      <>
        <h1>
          {handle}/{slug}
        </h1>
        <ProblemBox error={loadError} title="The group-buy could not be read" />
        <p>
          <a href={`#/h/${handle}`}>Back to the list</a>
        </p>
      </>
    );
  }
  if (!gb) return <p aria-busy="true">Loading…</p>;

  const step = nextStep(gb);
  const open = gb.status === 'published' || gb.status === 'paused';
  const isDraw = gb.allocation === 'draw';
  const drawn = !!gb.draw?.drawnAt;
  const demo = `${location.origin}/storefront-demo.html?handle=${encodeURIComponent(handle)}&slug=${encodeURIComponent(slug)}`;
  const snippet = `<script src="${location.origin}/widget.js" defer></script>\n<gharart-group-buy handle="${handle}" slug="${slug}"></gharart-group-buy>`;
  const disabled = !!busy;

  return (
    <>
      <p class="crumbs">
        <a href={`#/h/${handle}`}>{handle}</a> / {slug}
      </p>
      <div class="page-head">
        <h1>{gb.title}</h1>
        <StatusBadge gb={gb} />
      </div>
      <p class={`next${step.urgent ? ' urgent' : ''}`} data-testid="next-step">
        {step.text}
      </p>

      <Section title="Now" id="now">
        <Progress participants={gb.participantCount ?? 0} min={gb.minParticipants ?? 1} cap={gb.maxParticipants} />
        <dl class="facts">
          <div>
            <dt>Participants</dt>
            <dd data-stat="participants">{count(gb.participantCount ?? 0)}</dd>
          </div>
          <div>
            <dt>Units</dt>
            <dd data-stat="units">{count(gb.unitCount ?? 0)}</dd>
          </div>
          <div>
            <dt>Threshold / cap</dt>
            <dd>
              {count(gb.minParticipants ?? 0)} / {gb.maxParticipants ? count(gb.maxParticipants) : 'none'}
            </dd>
          </div>
          <div>
            <dt>Price now</dt>
            <dd>
              {money(gb.currentUnitPriceMinor ?? gb.unitPriceMinor ?? 0, gb.currency)}
              {gb.nextTier ? <span class="muted"> ({count(gb.nextTier.participantsNeeded)} more for {money(gb.nextTier.unitPriceMinor, gb.currency)})</span> : null}
            </dd>
          </div>
          <div>
            <dt>Deadline</dt>
            <dd>
              <Deadline at={gb.closesAt} closed={gb.status === 'closed'} />
              {gb.extensionCount ? <span class="muted"> · extended {gb.extensionCount} of 3 times</span> : null}
            </dd>
          </div>
          <div>
            <dt>Waitlist</dt>
            <dd data-stat="waitlist">
              {count(gb.waitlistCount ?? 0)}
              {gb.waitlistLimit ? <span class="muted"> of {count(gb.waitlistLimit)}</span> : null}
            </dd>
          </div>
          <div>
            <dt>Version (ETag)</dt>
            <dd>
              {gb.version} <code>{etag}</code>
            </dd>
          </div>
        </dl>
        <p class="muted">
          Read {refreshedAt ? dateTime(refreshedAt.toISOString()) : ''}; refreshed every 10 s.{' '}
          <button type="button" class="link" onClick={() => void refresh()}>
            Refresh now
          </button>
        </p>
      </Section>

      <Section title="Steps" id="steps">
        <p class="muted">
          Each step reads the group-buy first and acts only on the version shown here (If-Match); if it changed since, nothing is sent. A step pressed again after
          a lost answer reuses its Idempotency-Key.
        </p>
        {gb.status === 'closed' ? <p>Closed: no step is left.</p> : null}
        <div class="actions">
          {gb.status === 'draft' || gb.status === 'paused' ? (
            <button type="button" disabled={disabled} onClick={() => act('Publish', { kind: 'publish' })}>
              Publish
            </button>
          ) : null}
          {gb.status === 'published' ? (
            <button type="button" disabled={disabled} onClick={() => act('Pause', { kind: 'pause' })}>
              Pause
            </button>
          ) : null}
          {open ? (
            <button type="button" disabled={disabled} onClick={() => act('Close as fulfilled', { kind: 'close', outcome: 'fulfilled' })}>
              Close as fulfilled
            </button>
          ) : null}
          {gb.status !== 'closed' ? (
            <button type="button" class="danger" disabled={disabled} onClick={() => act('Close as cancelled', { kind: 'close', outcome: 'cancelled' })}>
              Close as cancelled
            </button>
          ) : null}
          {isDraw && gb.status === 'published' && !drawn ? (
            <button type="button" disabled={disabled} onClick={() => act('Run the draw', { kind: 'draw' })}>
              Run the draw
            </button>
          ) : null}
        </div>
        {open && gb.closesAt ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (extendTo) void act('Extend', { kind: 'extend', closesAt: new Date(extendTo).toISOString() });
          }}
        >
          <label for="extend-to">New deadline (your time)</label>
          <input id="extend-to" type="datetime-local" step="1" value={extendTo} onInput={(e) => setExtendTo((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={disabled}>
            Extend
          </button>
        </form>
        ) : null}
        <div ref={outcomeBox} tabIndex={-1} class="outcome" data-testid="step-outcome">
          <div aria-live="polite">
            {busy ? <p>{busy}…</p> : null}
            {outcome?.ok ? (
              <p class="ok" role="status">
                {outcome.ok}
              </p>
            ) : null}
            {outcome?.stale ? (
              <p class="stale" role="status">
                {outcome.stale}
              </p>
            ) : null}
          </div>
          {outcome?.error ? <ProblemBox error={outcome.error} title="Refused" /> : null}
        </div>
      </Section>

      {isDraw && gb.draw ? (
        <Section title="Fair draw" id="draw">
          <dl class="facts">
            <div>
              <dt>Draw at</dt>
              <dd>{dateTime(gb.drawAt)}</dd>
            </div>
            <div>
              <dt>Entries</dt>
              <dd data-stat="entries">{count(gb.draw.entryCount ?? 0)}</dd>
            </div>
            <div>
              <dt>Commitment (SHA-256 of the seed)</dt>
              <dd>
                <code class="hash">{gb.draw.commitment ?? 'made at the first publish'}</code>
              </dd>
            </div>
            <div>
              <dt>Result</dt>
              <dd data-stat="draw-result">
                {drawn ? `${count(gb.draw.winnerCount ?? 0)} ${gb.draw.winnerCount === 1 ? 'winner' : 'winners'}, drawn ${dateTime(gb.draw.drawnAt)}` : 'not drawn yet'}
              </dd>
            </div>
            {drawn ? (
              <div>
                <dt>Seed</dt>
                <dd>
                  <code class="hash">{gb.draw.seed}</code>
                </dd>
              </div>
            ) : null}
          </dl>
          {drawn ? (
            <p>
              <a href={`/verify-draw.html?handle=${encodeURIComponent(handle)}&slug=${encodeURIComponent(slug)}`}>Verify the draw</a>
            </p>
          ) : null}
        </Section>
      ) : null}

      <Section title="Interest over time" id="stats">
        {stats ? (
          <StatsChart stats={stats} min={gb.minParticipants ?? 0} cap={gb.maxParticipants} />
        ) : statsError ? (
          <ProblemBox error={statsError} title="Statistics unavailable" />
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
      </Section>

      <Section title="Participants" id="participants">
        <div class="actions">
          <button type="button" disabled={disabled} onClick={downloadCsv}>
            Download CSV
          </button>
        </div>
        {people?.items?.length ? (
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Participants (pseudonymous)</caption>
              <thead>
                <tr>
                  <th scope="col">Participant</th>
                  <th scope="col">Quantity</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {people.items.map((p) => (
                  <tr key={p.participant}>
                    <td>
                      <code>{p.participant}</code>
                    </td>
                    <td>{p.quantity}</td>
                    <td>{dateTime(p.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {people.nextCursor ? <p class="muted">The first 100 are shown; the CSV has everyone.</p> : null}
          </div>
        ) : (
          <p class="muted">No participants yet.</p>
        )}
      </Section>

      <Section title="History" id="history">
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Transitions and refused attempts, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Result</th>
                <th scope="col">Who</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {[...(older?.entries ?? []), ...(gb.history ?? [])].map((h, i) => (
                <tr key={i} class={h.result === 'rejected' ? 'rejected' : undefined}>
                  <td>{dateTime(h.at)}</td>
                  <td>
                    {h.action}
                    {h.outcome ? ` (${h.outcome})` : ''}
                    {h.from || h.to ? (
                      <span class="muted">
                        {' '}
                        {h.from ?? '—'} → {h.to ?? '—'}
                      </span>
                    ) : null}
                    {h.closesAt ? <span class="muted"> to {dateTime(h.closesAt)}</span> : null}
                  </td>
                  <td>
                    {h.result}
                    {h.reason ? (
                      <>
                        {' '}
                        <code>{h.reason}</code>
                      </>
                    ) : null}
                  </td>
                  <td>{h.actor}</td>
                  <td>
                    <code>{h.requestId}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>

      {(older ? older.cursor : gb.historyNextCursor) ? (
        <p>
          <button type="button" class="link" onClick={loadOlderHistory}>
            Older history entries
          </button>
        </p>
      ) : null}

      <Section title="On the storefront" id="embed">
        <p>
          <a href={demo}>Open the storefront demo page</a> (the widget as a visitor sees it).
        </p>
        <p>Embed with one script tag:</p>
        <pre>
          <code>{snippet}</code>
        </pre>
        <CopyButton text={snippet} label="Copy snippet" />
      </Section>
    </>
  );
}

/** A platform admin's read-only view: the rollup's item, and the public view when there is one. */
export function ReadOnlyView({ api, handle, slug }: { api: Api; handle: string; slug: string }) {
  const [item, setItem] = useState<import('../shared/types').AdminItem | null>(null);
  const [pub, setPub] = useState<import('../shared/types').PublicGroupBuy | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [pubError, setPubError] = useState<unknown>(null);
  useEffect(() => {
    api
      .admin({ handle })
      .then((r) => setItem(r.body.items?.find((i) => i.slug === slug) ?? null))
      .catch(setError);
    api
      .publicView(handle, slug)
      .then((r) => setPub(r.body))
      .catch(setPubError);
  }, [api, handle, slug]);
  return (
    <>
      <p class="crumbs">
        <a href="#/admin">Admin</a> / {handle} / {slug}
      </p>
      <h1>
        {pub?.title ?? slug} <span class="muted">(read-only)</span>
      </h1>
      <ProblemBox error={error} />
      {item ? (
        <Section title="Rollup" id="rollup">
          <Progress participants={item.participantCount ?? 0} min={item.minParticipants ?? 1} cap={pub?.maxParticipants} />
          <dl class="facts">
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge gb={{ status: item.status, closeOutcome: pub?.closeOutcome ?? null }} />
              </dd>
            </div>
            <div>
              <dt>Flags</dt>
              <dd>{item.flags?.length ? item.flags.map((f) => <span class={`flag flag-${f}`} key={f}>{f}</span>) : 'none'}</dd>
            </div>
            <div>
              <dt>Deadline</dt>
              <dd>
                <Deadline at={item.closesAt} />
              </dd>
            </div>
            <div>
              <dt>Last change</dt>
              <dd>{dateTime(item.updatedAt)}</dd>
            </div>
          </dl>
        </Section>
      ) : null}
      <Section title="Public view" id="public">
        {pub ? (
          <dl class="facts">
            <div>
              <dt>Price</dt>
              <dd>{money(pub.currentUnitPriceMinor ?? pub.unitPriceMinor ?? 0, pub.currency)}</dd>
            </div>
            <div>
              <dt>Participants / units</dt>
              <dd>
                {count(pub.participantCount ?? 0)} / {count(pub.unitCount ?? 0)}
              </dd>
            </div>
            <div>
              <dt>Allocation</dt>
              <dd>{pub.allocation}</dd>
            </div>
            <div>
              <dt>Published</dt>
              <dd>{dateTime(pub.publishedAt)}</dd>
            </div>
          </dl>
        ) : pubError instanceof ApiError && pubError.status === 404 ? (
          <p>Not public: this group-buy was never published.</p>
        ) : (
          <ProblemBox error={pubError} />
        )}
      </Section>
    </>
  );
}
