// Interest over time (the stats route): participants and units per hour with the threshold and
// the cap as lines, registrations and withdrawals as bars, needed per day and the projection.
// uPlot draws a canvas; the same numbers are in a table for screen readers and keyboards.
// Every time is the viewer's own (uPlot's default zone, and dateTime()): axis, table, caption.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { count, dateTime } from '../shared/format';
import type { Stats } from '../shared/types';

// Counts are whole: no tick at 0.5.
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

type Bucket = Stats['buckets'][number];

/** An hour's start, in uPlot's seconds. */
function hourStart(b: Bucket): number {
  return new Date(b.start).getTime() / 1000;
}

/** An hour's end: where its totals hold. */
function hourEnd(b: Bucket): number {
  return hourStart(b) + 3600;
}

interface Props {
  stats: Stats;
  min: number;
  cap?: number | null;
}

export function StatsChart({ stats, min, cap }: Props) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !stats.buckets.length) return;
    // participants and units are the totals at the END of each hour: each is drawn at its
    // hour's start + 1 h, after a leading 0 at the first start (nothing before the first
    // publish), so that a single bucket still draws a line. The hour's registrations and
    // withdrawals are drawn at the same end.
    const xs = [hourStart(stats.buckets[0]), ...stats.buckets.map(hourEnd)];
    const data: uPlot.AlignedData = [
      xs,
      [0, ...stats.buckets.map((b) => b.participants)],
      [0, ...stats.buckets.map((b) => b.units)],
      xs.map(() => min),
      xs.map(() => cap ?? null),
      [null, ...stats.buckets.map((b) => b.registered)],
      [null, ...stats.buckets.map((b) => -b.withdrawn)],
    ];
    const top = Math.max(min, cap ?? 0, ...stats.buckets.map((b) => Math.max(b.participants, b.units))) * 1.1 + 1;
    const perHour = Math.max(1, ...stats.buckets.map((b) => Math.max(b.registered, b.withdrawn)));
    const bars = uPlot.paths.bars!({ size: [0.6, 40] });
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 260,
      scales: {
        // Half an hour past the last end, so that the last hour's bars, centred on it, show whole.
        x: { time: true, range: [xs[0], xs[xs.length - 1] + 1800] },
        n: { range: [0, Math.ceil(top)] },
        d: { range: [-perHour * 1.2, perHour * 1.2] },
      },
      axes: [
        { stroke: '#3b372e', grid: { stroke: '#ece7dc' } },
        { scale: 'n', stroke: '#3b372e', grid: { stroke: '#ece7dc' }, label: 'participants / units', incrs: WHOLE },
        { scale: 'd', side: 1, stroke: '#3b372e', grid: { show: false }, label: 'per hour', incrs: WHOLE, values: (_u, ticks) => ticks.map((t) => String(Math.abs(t))) },
      ],
      series: [
        { label: 'End of hour (your time)' },
        { label: 'Participants', scale: 'n', stroke: '#7a3e00', width: 2, points: { show: true } },
        { label: 'Units', scale: 'n', stroke: '#0b57d0', width: 2, points: { show: true } },
        { label: 'Threshold', scale: 'n', stroke: '#1f6b2e', dash: [6, 4], width: 1.5, points: { show: false } },
        { label: 'Cap', scale: 'n', stroke: '#a11d1d', dash: [2, 4], width: 1.5, points: { show: false }, show: cap != null },
        { label: 'Registered', scale: 'd', fill: 'rgba(31,107,46,0.35)', stroke: '#1f6b2e', paths: bars, points: { show: false } },
        { label: 'Withdrawn', scale: 'd', fill: 'rgba(161,29,29,0.35)', stroke: '#a11d1d', paths: bars, points: { show: false } },
      ],
    };
    const plot = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [stats, min, cap]);

  const last = stats.buckets[stats.buckets.length - 1];
  const p = stats.projection;
  return (
    <div class="chart">
      {stats.buckets.length ? (
        <div ref={box} class="chart-canvas" role="img" aria-label={`Participants per hour; now ${count(last?.participants ?? 0)} participants and ${count(last?.units ?? 0)} units, threshold ${count(min)}${cap ? `, cap ${count(cap)}` : ''}`} />
      ) : (
        <p class="muted">No data yet: the statistics start at the first publish.</p>
      )}
      <dl class="facts">
        <div>
          <dt>Needed per day</dt>
          <dd data-stat="needed-per-day">{p ? count(Math.ceil(p.neededPerDay)) : '—'}</dd>
        </div>
        <div>
          <dt>Projected at the deadline</dt>
          <dd data-stat="projection">{p ? `${count(Math.round(p.participantsAtClose))} ${Math.round(p.participantsAtClose) === 1 ? 'participant' : 'participants'}` : 'no deadline'}</dd>
        </div>
        <div>
          <dt>Likely to meet the threshold</dt>
          <dd data-stat="likely">{p ? (p.likelyToMeetThreshold ? 'yes' : 'no') : '—'}</dd>
        </div>
      </dl>
      {stats.buckets.length ? (
        <details>
          <summary>The numbers, hour by hour</summary>
          <div class="table-wrap">
            <table class="stats-table">
              <caption class="sr-only">Interest per hour; totals at the end of each hour (your time)</caption>
              <thead>
                <tr>
                  <th scope="col">Hour ending (your time)</th>
                  <th scope="col">Registered</th>
                  <th scope="col">Withdrawn</th>
                  <th scope="col">Participants</th>
                  <th scope="col">Units</th>
                </tr>
              </thead>
              <tbody>
                {stats.buckets.map((b) => (
                  <tr key={b.start}>
                    <td>{dateTime(new Date(hourEnd(b) * 1000).toISOString())}</td>
                    <td>{count(b.registered)}</td>
                    <td>{count(b.withdrawn)}</td>
                    <td>{count(b.participants)}</td>
                    <td>{count(b.units)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      ) : null}
    </div>
  );
}
