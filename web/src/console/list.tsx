// The handle's group-buys (status, progress, deadline, next step) and the create form.
import { useEffect, useState } from 'preact/hooks';
import { money, toMinor } from '../shared/format';
import { Intent } from '../shared/http';
import type { GroupBuy, NewGroupBuy } from '../shared/types';
import type { Api } from './api';
import { Deadline, nextStep, ProblemBox, Progress, StatusBadge } from './ui';

/** `more` added to `items`, each group-buy once (a draft can be in both lists). */
function merged(items: GroupBuy[], more: GroupBuy[]): GroupBuy[] {
  const seen = new Set(items.map((gb) => gb.slug));
  return [...items, ...more.filter((gb) => !seen.has(gb.slug))];
}

export function CampaignList({ api, handle }: { api: Api; handle: string }) {
  const [items, setItems] = useState<GroupBuy[] | null>(null);
  const [older, setOlder] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    setItems(null);
    // The newest page, and every draft however old.
    Promise.all([api.list(handle), api.drafts(handle)])
      .then(([newest, drafts]) => {
        if (!live) return;
        setItems(merged(drafts, newest.body.items ?? []));
        setOlder(newest.body.nextCursor ?? null);
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api, handle]);

  async function showOlder() {
    try {
      const r = await api.list(handle, undefined, older);
      setItems((now) => merged(now ?? [], r.body.items ?? []));
      setOlder(r.body.nextCursor ?? null);
    } catch (e) {
      setError(e);
    }
  }

  // A draft that was never published first: the guide's most common failure.
  const sorted = items ? [...items].sort((a, b) => Number(b.status === 'draft' && !b.publishedAt) - Number(a.status === 'draft' && !a.publishedAt)) : null;
  return (
    <>
      <div class="page-head">
        <h1>Group-buys of {handle}</h1>
        <a class="button" href={`#/h/${handle}/new`}>
          New group-buy
        </a>
      </div>
      <ProblemBox error={error} title="The group-buys could not be listed" />
      {!sorted && !error ? <p aria-busy="true">Loading…</p> : null}
      {sorted && !sorted.length ? <p>No group-buys yet. Create the first one.</p> : null}
      <ul class="cards" aria-label="Group-buys">
        {sorted?.map((gb) => {
          const step = nextStep(gb);
          return (
            <li class="card" key={gb.slug}>
              <div class="card-head">
                <h2>
                  <a href={`#/h/${handle}/g/${gb.slug}`}>{gb.title}</a>
                </h2>
                <StatusBadge gb={gb} />
              </div>
              <p class={`next${step.urgent ? ' urgent' : ''}`}>{step.text}</p>
              <Progress participants={gb.participantCount ?? 0} min={gb.minParticipants ?? 1} cap={gb.maxParticipants} />
              <p class="muted">
                {money(gb.currentUnitPriceMinor ?? gb.unitPriceMinor ?? 0, gb.currency)} per unit · {gb.unitCount ?? 0} units · closes{' '}
                <Deadline at={gb.closesAt} closed={gb.status === 'closed'} />
                {gb.allocation === 'draw' ? ' · fair draw' : ''}
              </p>
            </li>
          );
        })}
      </ul>
      {older ? (
        <button type="button" class="link" onClick={showOlder}>
          Show older group-buys
        </button>
      ) : null}
    </>
  );
}

function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function CreateForm({ api, handle, onCreated }: { api: Api; handle: string; onCreated: (gb: GroupBuy) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [allocation, setAllocation] = useState<'first-come' | 'draw'>('first-come');
  // A second press after a lost answer creates nothing twice: same body, same key.
  const [intent] = useState(() => new Intent());
  const week = localInput(new Date(Date.now() + 7 * 86400_000));
  const day = localInput(new Date(Date.now() + 86400_000));

  async function submit(e: Event) {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    const num = (k: string) => (text(k) ? Number(text(k)) : undefined);
    const body: NewGroupBuy = {
      title: text('title'),
      description: text('description'),
      currency: 'INR',
      unitPriceMinor: toMinor(text('price'), 'INR'),
      minParticipants: num('minParticipants')!,
      maxQuantityPerParticipant: num('maxQuantity') ?? 1,
    };
    if (text('slug')) body.slug = text('slug');
    const tiers = text('tiers');
    if (tiers) {
      // "10:2199, 20:1999": from 10 participants ₹2,199, from 20 ₹1,999.
      body.priceTiers = tiers.split(',').map((t) => {
        const [min, price] = t.split(':').map((x) => x.trim());
        return { minParticipants: Number(min), unitPriceMinor: toMinor(price ?? '', 'INR') };
      });
    }
    if (num('maxParticipants')) body.maxParticipants = num('maxParticipants');
    if (text('closesAt')) body.closesAt = new Date(text('closesAt')).toISOString();
    if (allocation === 'draw') {
      body.allocation = 'draw';
      if (text('drawAt')) body.drawAt = new Date(text('drawAt')).toISOString();
    }
    setBusy(true);
    setError(null);
    try {
      const created = (await api.create(handle, body, intent.key(JSON.stringify([handle, body])))).body;
      intent.settle();
      onCreated(created);
    } catch (err) {
      intent.settle(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>New group-buy for {handle}</h1>
      <form class="form" onSubmit={submit}>
        <label for="title">Title</label>
        <input id="title" name="title" required maxLength={120} />
        <label for="slug">Slug (optional, from the title)</label>
        <input id="slug" name="slug" pattern="[a-z0-9]+(-[a-z0-9]+)*" minLength={3} maxLength={64} />
        <label for="description">Description</label>
        <textarea id="description" name="description" maxLength={4000} rows={3} />
        <div class="grid">
          <div>
            <label for="price">Unit price (INR)</label>
            <input id="price" name="price" type="number" min="0" step="0.01" required inputMode="decimal" />
          </div>
          <div>
            <label for="minParticipants">Threshold (participants)</label>
            <input id="minParticipants" name="minParticipants" type="number" min="1" max="100000" required />
          </div>
          <div>
            <label for="maxParticipants">Cap (optional)</label>
            <input id="maxParticipants" name="maxParticipants" type="number" min="1" max="100000" />
          </div>
          <div>
            <label for="maxQuantity">Most units per participant</label>
            <input id="maxQuantity" name="maxQuantity" type="number" min="1" max="100" value="1" />
          </div>
          <div>
            <label for="tiers">Price tiers (optional)</label>
            <input id="tiers" name="tiers" placeholder="10:2199, 20:1999" aria-describedby="tiers-help" pattern="\s*\d+\s*:\s*\d+(\.\d+)?\s*(,\s*\d+\s*:\s*\d+(\.\d+)?\s*)*" />
            <small id="tiers-help" class="muted">
              participants:price pairs, lower prices as more join
            </small>
          </div>
          <div>
            <label for="closesAt">Deadline (your time)</label>
            <input id="closesAt" name="closesAt" type="datetime-local" step="1" value={week} />
          </div>
          <div>
            <label for="allocation">Allocation</label>
            <select id="allocation" name="allocation" value={allocation} onChange={(e) => setAllocation((e.target as HTMLSelectElement).value as 'first-come' | 'draw')}>
              <option value="first-come">First come, first served</option>
              <option value="draw">Fair draw (needs a cap)</option>
            </select>
          </div>
          {allocation === 'draw' ? (
            <div>
              <label for="drawAt">Draw at (your time)</label>
              <input id="drawAt" name="drawAt" type="datetime-local" step="1" value={day} required />
            </div>
          ) : null}
        </div>
        <ProblemBox error={error} title="The group-buy was not created" />
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create draft'}
          </button>
          <a href={`#/h/${handle}`}>Cancel</a>
        </div>
      </form>
    </>
  );
}
