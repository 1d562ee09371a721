// The platform admin's dashboard: the rollup summary and the flagged campaigns, with filters.
import { useEffect, useState } from 'preact/hooks';
import { count, dateTime } from '../shared/format';
import type { AdminFlag, AdminRollup, Status } from '../shared/types';
import type { Api } from './api';
import { Deadline, ProblemBox } from './ui';

const FLAGS: AdminFlag[] = ['STUCK_DRAFT', 'DEADLINE_PASSED', 'CLOSE_REJECTED', 'NEAR_CAP', 'THRESHOLD_MET'];
const FLAG_TEXT: Record<AdminFlag, string> = {
  STUCK_DRAFT: 'Stuck draft',
  DEADLINE_PASSED: 'Deadline passed, still open',
  CLOSE_REJECTED: 'Close rejected',
  NEAR_CAP: 'Near the cap',
  THRESHOLD_MET: 'Threshold met',
};

export function AdminDashboard({ api }: { api: Api }) {
  const [filters, setFilters] = useState<{ status: Status | ''; handle: string; flag: AdminFlag | '' }>(() => {
    const q = new URLSearchParams(location.hash.split('?')[1] || '');
    return { status: (q.get('status') as Status) || '', handle: q.get('handle') || '', flag: (q.get('flag') as AdminFlag) || '' };
  });
  const [data, setData] = useState<AdminRollup | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [more, setMore] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setData(null);
    setError(null);
    api
      .admin(filters)
      .then((r) => {
        if (!live) return;
        setData(r.body);
        setMore(r.body.nextCursor ?? null);
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api, filters]);

  async function loadMore() {
    if (!more || !data) return;
    try {
      const r = await api.admin({ ...filters, cursor: more });
      setData({ ...data, items: [...(data.items ?? []), ...(r.body.items ?? [])] });
      setMore(r.body.nextCursor ?? null);
    } catch (e) {
      setError(e);
    }
  }

  const s = data?.summary;
  const flagged = data?.items?.filter((i) => i.flags?.some((f) => f !== 'THRESHOLD_MET')) ?? [];
  return (
    <>
      <h1>Platform admin</h1>
      <ProblemBox error={error} title="The rollup could not be read" />
      {s ? (
        <dl class="summary" aria-label="Summary">
          {(['draft', 'published', 'paused', 'closed'] as const).map((k) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd data-summary={k}>{count(s.byStatus?.[k] ?? 0)}</dd>
            </div>
          ))}
          <div>
            <dt>participants</dt>
            <dd>{count(s.participants ?? 0)}</dd>
          </div>
          <div>
            <dt>units</dt>
            <dd>{count(s.units ?? 0)}</dd>
          </div>
          <div>
            <dt>threshold met</dt>
            <dd>{count(s.thresholdMet ?? 0)}</dd>
          </div>
          <div>
            <dt>stuck drafts</dt>
            <dd data-summary="stuck">{count(s.stuckDrafts ?? 0)}</dd>
          </div>
        </dl>
      ) : null}
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <div>
          <label for="f-status">Status</label>
          <select id="f-status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: (e.target as HTMLSelectElement).value as Status | '' })}>
            <option value="">any</option>
            <option value="draft">draft</option>
            <option value="published">published</option>
            <option value="paused">paused</option>
            <option value="closed">closed</option>
          </select>
        </div>
        <div>
          <label for="f-flag">Flag</label>
          <select id="f-flag" value={filters.flag} onChange={(e) => setFilters({ ...filters, flag: (e.target as HTMLSelectElement).value as AdminFlag | '' })}>
            <option value="">any</option>
            {FLAGS.map((f) => (
              <option value={f} key={f}>
                {FLAG_TEXT[f]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-handle">Handle</label>
          <input
            id="f-handle"
            value={filters.handle}
            pattern="[a-z0-9]+(-[a-z0-9]+)*"
            onChange={(e) => setFilters({ ...filters, handle: (e.target as HTMLInputElement).value.trim() })}
          />
        </div>
      </form>
      <p class="muted">
        {data ? `${count(data.items?.length ?? 0)} ${data.items?.length === 1 ? 'campaign' : 'campaigns'} shown, ${count(flagged.length)} ${flagged.length === 1 ? 'needs' : 'need'} attention.` : 'Loading…'}
      </p>
      <div class="table-wrap">
        <table class="admin-table">
          <caption class="sr-only">Campaigns, flagged ones marked</caption>
          <thead>
            <tr>
              <th scope="col">Campaign</th>
              <th scope="col">Status</th>
              <th scope="col">Participants</th>
              <th scope="col">Deadline</th>
              <th scope="col">Flags</th>
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            {data?.items?.map((i) => (
              <tr key={`${i.handle}/${i.slug}`}>
                <td data-label="Campaign">
                  <a href={`#/admin/${i.handle}/${i.slug}`}>
                    {i.handle}/{i.slug}
                  </a>
                </td>
                <td data-label="Status">{i.status}</td>
                <td data-label="Participants">
                  {count(i.participantCount ?? 0)} / {count(i.minParticipants ?? 0)}
                </td>
                <td data-label="Deadline">
                  <Deadline at={i.closesAt} />
                </td>
                <td data-label="Flags">
                  {i.flags?.map((f) => (
                    <span class={`flag flag-${f}`} key={f}>
                      {FLAG_TEXT[f as AdminFlag] ?? f}
                    </span>
                  ))}
                </td>
                <td data-label="Changed">{dateTime(i.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {more ? (
        <button type="button" onClick={loadMore}>
          More
        </button>
      ) : null}
    </>
  );
}
