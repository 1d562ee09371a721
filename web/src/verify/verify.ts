// The draw's verification page (/verify-draw.html?handle=&slug=[&ticket=]): fetches the public
// ranked list and checks, in this browser, that SHA-256 of the seed is the commitment and that
// every rank follows from the seed (ascending SHA-256(seed bytes ‖ ticket), ties by ticket),
// as scripts/verify-draw.py does.
import { call, enc } from '../shared/http';
import type { PublicDraw } from '../shared/types';

const out = document.getElementById('out')!;
const q = new URLSearchParams(location.search);
const handle = q.get('handle') || '';
const slug = q.get('slug') || '';
const ticket = q.get('ticket') || '';

function line(text: string, ok?: boolean) {
  const li = document.createElement('li');
  li.textContent = (ok === undefined ? '' : ok ? '✓ ' : '✗ ') + text;
  if (ok === false) li.className = 'bad';
  if (ok === true) li.className = 'good';
  out.append(li);
}

function hex(b: ArrayBuffer): string {
  return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
}

function fromHex(h: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(new ArrayBuffer(h.length / 2));
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return b;
}

async function main() {
  document.getElementById('what')!.textContent = `${handle}/${slug}`;
  const base = `/v2/public/group-buys/${enc(handle)}/${enc(slug)}/draw`;
  const items: NonNullable<PublicDraw['items']> = [];
  let commitment = '';
  let seed = '';
  let path = `${base}?limit=100`;
  for (let page = 0; page < 100; page++) {
    const r = await call<PublicDraw>('', 'GET', path);
    if (page === 0) {
      commitment = r.body.commitment ?? '';
      seed = r.body.seed ?? '';
    }
    items.push(...(r.body.items ?? []));
    if (!r.body.nextCursor) break;
    path = `${base}?limit=100&cursor=${enc(r.body.nextCursor)}`;
  }
  line(`Commitment ${commitment}`);
  line(`Seed ${seed}`);
  const seedBytes = fromHex(seed);
  const digest = hex(await crypto.subtle.digest('SHA-256', seedBytes));
  line('SHA-256 of the seed is the commitment published before the draw', digest === commitment);
  const encoder = new TextEncoder();
  const keyed = await Promise.all(
    items.map(async (i) => {
      const t = encoder.encode(i.ticket);
      const buf = new Uint8Array(new ArrayBuffer(seedBytes.length + t.length));
      buf.set(seedBytes);
      buf.set(t, seedBytes.length);
      return { ...i, key: hex(await crypto.subtle.digest('SHA-256', buf)) };
    }),
  );
  const expected = [...keyed].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.ticket < b.ticket ? -1 : 1));
  const ranksOk = expected.every((e, idx) => e.rank === idx + 1);
  line(`${items.length === 1 ? 'The one rank follows' : `All ${items.length} ranks follow`} from the seed`, ranksOk);
  if (ticket) {
    const mine = items.find((i) => i.ticket === ticket);
    line(mine ? `Your ticket ${ticket} is in the list: rank ${mine.rank}, ${mine.result}` : `Your ticket ${ticket} is not in the list`, !!mine);
  }
}

main().catch((e) => line(`The draw could not be verified: ${String(e?.message ?? e)}`, false));
