// Sign-in to the console: OpenID Connect authorization code with PKCE (oauth4webapi), against
// the issuer and client id of /config.json. The access token lives in memory and in
// sessionStorage (this tab only, gone with it), never in a URL but the provider's redirect,
// never in a log.
import * as oauth from 'oauth4webapi';

export interface Config {
  issuer: string;
  clientId: string;
  /** The API's origin; empty: this origin (the stage's CloudFront serves both). */
  apiBase: string;
  /** Optional RFC 8707 resource indicator for the API. */
  resource?: string;
}

export interface Session {
  accessToken: string;
  idToken?: string;
  expiresAt: number;
  sub: string;
  name: string;
  handles: string[];
  roles: string[];
  scopes: string[];
}

const SESSION = 'gharart.console.session';
const PENDING = 'gharart.console.oidc';
const SCOPE = 'openid profile group-buys:read group-buys:write';

export async function loadConfig(): Promise<Config> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`/config.json: HTTP ${res.status}`);
  return (await res.json()) as Config;
}

function redirectUri(): string {
  return `${location.origin}/`;
}

function insecure(config: Config) {
  return { [oauth.allowInsecureRequests]: new URL(config.issuer).protocol === 'http:' };
}

async function discover(config: Config): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(config.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure(config)));
}

function decodePayload(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part)))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function sessionFrom(accessToken: string, idToken: string | undefined, expiresIn: number | undefined): Session {
  // The API verifies the token; the console reads its claims only to show the right pages.
  const claims = decodePayload(accessToken);
  const idClaims = idToken ? decodePayload(idToken) : {};
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(' ').filter(Boolean) : []);
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now() + (expiresIn ?? 3600) * 1000;
  return {
    accessToken,
    idToken,
    expiresAt: exp,
    sub: String(claims.sub ?? idClaims.sub ?? ''),
    name: String(idClaims.name ?? claims.sub ?? ''),
    handles: list(claims.handles),
    roles: list(claims.roles),
    scopes: list(claims.scope ?? claims.scp),
  };
}

export function currentSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (s.expiresAt - Date.now() < 30_000) {
      sessionStorage.removeItem(SESSION);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function forgetSession(): void {
  sessionStorage.removeItem(SESSION);
}

export async function signIn(config: Config, returnTo: string): Promise<void> {
  const as = await discover(config);
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', SCOPE);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  if (config.resource) url.searchParams.set('resource', config.resource);
  sessionStorage.setItem(PENDING, JSON.stringify({ codeVerifier, state, returnTo }));
  location.assign(url.href);
}

/** Completes a sign-in when the page is the provider's redirect; returns the hash to go back to. */
export async function completeSignIn(config: Config): Promise<{ session: Session; returnTo: string } | null> {
  const here = new URL(location.href);
  if (!here.searchParams.has('code') && !here.searchParams.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null') as { codeVerifier: string; state: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING);
  // The code leaves the address bar (and so the history) at once.
  history.replaceState(null, '', `${location.pathname}${pending?.returnTo || ''}`);
  if (!pending) throw new Error('This sign-in was not started here; sign in again.');
  const as = await discover(config);
  const client: oauth.Client = { client_id: config.clientId };
  const params = oauth.validateAuthResponse(as, client, here, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), pending.codeVerifier, insecure(config));
  const result = await oauth.processAuthorizationCodeResponse(as, client, response);
  const session = sessionFrom(result.access_token, result.id_token, result.expires_in);
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  return { session, returnTo: pending.returnTo };
}

export async function signOut(config: Config, session: Session | null): Promise<void> {
  sessionStorage.removeItem(SESSION);
  try {
    const as = await discover(config);
    if (as.end_session_endpoint && session?.idToken) {
      const url = new URL(as.end_session_endpoint);
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('id_token_hint', session.idToken);
      url.searchParams.set('post_logout_redirect_uri', redirectUri());
      location.assign(url.href);
      return;
    }
  } catch {
    /* the provider is unreachable: signed out here all the same */
  }
  location.assign('/');
}
