// The console's shell: configuration, sign-in, the hash router, and the request log (every
// call's request id, copyable).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { onCall, recentCalls, type CallRecord } from '../shared/http';
import { AdminDashboard } from './admin';
import { Api } from './api';
import { completeSignIn, currentSession, forgetSession, signIn, signOut, type Config, type Session } from './auth';
import { CampaignView, ReadOnlyView } from './campaign';
import { CampaignList, CreateForm } from './list';
import { ReportForm } from './report';
import { CopyButton, ProblemBox } from './ui';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function RequestLog() {
  const [calls, setCalls] = useState<CallRecord[]>([...recentCalls]);
  useEffect(() => onCall(() => setCalls([...recentCalls])), []);
  const shown = calls.slice(-8).reverse();
  return (
    <details class="request-log">
      <summary>
        Recent calls ({calls.length}){calls.length ? <span class="muted"> · last request id {calls[calls.length - 1].requestId || '—'}</span> : null}
      </summary>
      <ol>
        {shown.map((c, i) => (
          <li key={i} class={c.status >= 400 || c.status === 0 ? 'failed' : undefined}>
            <span>
              {c.method} {c.path} → {c.status}
              {c.code ? ` ${c.code}` : ''}
            </span>{' '}
            {c.requestId ? (
              <>
                <code data-request-id>{c.requestId}</code> <CopyButton text={c.requestId} label="Copy id" />
              </>
            ) : null}
          </li>
        ))}
      </ol>
      <p>
        <a href="#/report">Report a problem with these calls</a>
      </p>
    </details>
  );
}

export function App({ config }: { config: Config }) {
  const [session, setSession] = useState<Session | null>(currentSession);
  const [signInError, setSignInError] = useState<unknown>(null);
  const [completing, setCompleting] = useState(() => new URL(location.href).searchParams.has('code') || new URL(location.href).searchParams.has('error'));
  const [expired, setExpired] = useState(false);
  const hash = useHash();
  // A token the API no longer accepts (expired, or the provider's keys changed): sign in again.
  useEffect(
    () =>
      onCall((c) => {
        if (c.status === 401 && c.code === 'UNAUTHENTICATED' && !c.path.startsWith('/v2/public/')) {
          forgetSession();
          setExpired(true);
          setSession(null);
        }
      }),
    [],
  );
  const api = useMemo(() => new Api(config.apiBase || '', () => session?.accessToken ?? null), [config, session]);

  useEffect(() => {
    if (!completing) return;
    completeSignIn(config)
      .then((r) => {
        if (r) {
          setSession(r.session);
          if (r.returnTo && r.returnTo !== location.hash) location.hash = r.returnTo;
        }
      })
      .catch(setSignInError)
      .finally(() => setCompleting(false));
  }, []);

  useEffect(() => {
    const parts = hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean);
    document.title = `${parts.length ? parts.join(' / ') + ' · ' : ''}Gharart console`;
    (document.getElementById('main') as HTMLElement | null)?.focus({ preventScroll: true });
  }, [hash]);

  if (completing) return <Shell session={null} config={config} handle={null}><p aria-busy="true">Signing in…</p></Shell>;
  if (!session) {
    return (
      <Shell session={null} config={config} handle={null}>
        <h1>Gharart group-buys</h1>
        <p>Run your group-buys: publish, watch interest come in, close, and download the participants.</p>
        {expired ? <p role="alert">Your session has ended: sign in again.</p> : null}
        <ProblemBox error={signInError} title="Sign-in failed" />
        <button type="button" class="primary" onClick={() => signIn(config, location.hash).catch(setSignInError)}>
          Sign in
        </button>
      </Shell>
    );
  }

  const isAdmin = session.roles.includes('platform-admin');
  const parts = hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  let handle: string | null = parts[0] === 'h' && parts[1] ? parts[1] : session.handles[0] ?? null;
  let page;
  if (parts[0] === 'admin') {
    handle = null;
    page = !isAdmin ? (
      <p role="alert">The admin dashboard is for platform admins.</p>
    ) : parts[1] && parts[2] ? (
      <ReadOnlyView api={api} handle={parts[1]} slug={parts[2]} />
    ) : (
      <AdminDashboard api={api} />
    );
  } else if (parts[0] === 'report') {
    page = <ReportForm api={api} handle={handle} />;
  } else if (parts[0] === 'h' && handle && parts[2] === 'g' && parts[3]) {
    page = <CampaignView key={`${handle}/${parts[3]}`} api={api} handle={handle} slug={parts[3]} />;
  } else if (parts[0] === 'h' && handle && parts[2] === 'new') {
    page = <CreateForm api={api} handle={handle} onCreated={(gb) => (location.hash = `#/h/${handle}/g/${gb.slug}`)} />;
  } else if (handle) {
    page = <CampaignList api={api} handle={handle} />;
  } else if (isAdmin) {
    location.hash = '#/admin';
    page = null;
  } else {
    page = <p>This account manages no handle. Ask an admin to give it one.</p>;
  }
  return (
    <Shell session={session} config={config} handle={handle} isAdmin={isAdmin}>
      {page}
    </Shell>
  );
}

function Shell({ session, config, handle, isAdmin, children }: { session: Session | null; config: Config; handle: string | null; isAdmin?: boolean; children: preact.ComponentChildren }) {
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Gharart
        </a>
        {session ? (
          <nav aria-label="Console">
            {session.handles.map((h) => (
              <a key={h} href={`#/h/${h}`} aria-current={h === handle ? 'page' : undefined}>
                {h}
              </a>
            ))}
            {isAdmin ? <a href="#/admin">Admin</a> : null}
            <a href="#/report">Report a problem</a>
            <span class="who" title={session.sub}>
              {session.name}
            </span>
            <button type="button" class="link" onClick={() => signOut(config, session)}>
              Sign out
            </button>
          </nav>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      {session ? (
        <footer>
          <RequestLog />
        </footer>
      ) : null}
    </>
  );
}
