// The local OpenID Connect provider of the dev command and the browser tests (docs/web.md):
// the certified `oidc-provider` package, issuer http://127.0.0.1:$LOCAL_OIDC_PORT, one public
// client (the console, authorization code + PKCE), a dev login page, RS256 JWT access tokens
// for the API's audience with the claims the API reads: sub, scope, handles, roles.
//
//   node web/oidc.mjs
//
// Environment: LOCAL_OIDC_PORT (9081), LOCAL_CONSOLE_PORT (9080: the console's redirect URI),
// JWT_AUDIENCE (gharart-group-buys-local), DEMO_HANDLE (acme-decor), OIDC_KEY_FILE (unset: a
// new key each start), CONSOLE_ORIGINS (the console's origins, comma-separated).
//
// Accounts: any username signs in. `demo` (and any other name) manages DEMO_HANDLE; `admin`
// has roles ["platform-admin"] and no handle; a name like `owner@some-handle` manages
// `some-handle` (a second owner, for trying HANDLE_FORBIDDEN).
//
// Tokens are never logged.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.LOCAL_OIDC_PORT || 9081);
const consolePort = Number(process.env.LOCAL_CONSOLE_PORT || 9080);
const audience = process.env.JWT_AUDIENCE || 'gharart-group-buys-local';
const demoHandle = process.env.DEMO_HANDLE || 'acme-decor';
const issuer = `http://127.0.0.1:${port}`;
// The resource indicator (RFC 8707) the console's tokens are for; their `aud` is `audience`.
const resource = 'urn:gharart:group-buys';
const apiScopes = 'group-buys:read group-buys:write';
const consoleOrigins = (process.env.CONSOLE_ORIGINS || `http://127.0.0.1:${consolePort},http://localhost:${consolePort}`)
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

// The signing key: kept in OIDC_KEY_FILE when set (the dev command keeps it beside its data,
// so that a restart neither signs the console out nor makes the API fetch new keys), else
// made for this run.
function signingKey() {
  const file = process.env.OIDC_KEY_FILE;
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = { ...privateKey.export({ format: 'jwk' }), kid: `local-${Date.now().toString(36)}`, alg: 'RS256', use: 'sig' };
  if (file) writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}
const jwk = signingKey();

// accountId → claims. Any name is an account (a dev login), made on first sign-in.
function account(accountId) {
  let handles = [demoHandle];
  let roles = [];
  if (accountId === 'admin') {
    handles = [];
    roles = ['platform-admin'];
  } else if (accountId.includes('@')) {
    handles = [accountId.split('@')[1]];
  }
  return {
    accountId,
    handles,
    roles,
    async claims() {
      return { sub: accountId, name: accountId, handles, roles };
    },
  };
}

const configuration = {
  clients: [
    {
      client_id: 'gharart-console',
      client_name: 'Gharart console (local)',
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: consoleOrigins.map((o) => `${o}/`),
      post_logout_redirect_uris: consoleOrigins.map((o) => `${o}/`),
    },
  ],
  jwks: { keys: [jwk] },
  findAccount: (_ctx, id) => account(id),
  claims: { openid: ['sub'], profile: ['name'] },
  // The API's scopes are the resource server's (getResourceServerInfo), not OpenID scopes.
  scopes: ['openid', 'profile'],
  pkce: { required: () => true },
  ttl: { AccessToken: 8 * 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600 },
  cookies: { keys: [jwk.kid + '-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return {
          scope: apiScopes,
          audience,
          accessTokenTTL: 8 * 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // The API's claims beside sub and scope.
  extraTokenClaims: async (_ctx, token) => {
    if (!token.accountId) return undefined;
    const a = account(token.accountId);
    return { handles: a.handles, roles: a.roles };
  },
  // First-party client: the grant is given at sign-in, no consent screen.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile');
    grant.addResourceScope(resource, apiScopes);
    await grant.save();
    return grant;
  },
  // The token endpoint answers the console's origins only (the provider's own rule, stated).
  clientBasedCORS: (_ctx, origin) => consoleOrigins.includes(origin),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<p role="alert">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1rem;background:#f6f4ef;color:#1d1b16}
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:8px;border:1px solid #d8d2c4}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box}
button{font:inherit;margin-top:1rem;padding:.5rem 1rem;background:#7a3e00;color:#fff;border:0;border-radius:4px;cursor:pointer}
ul{padding-left:1.2rem}code{background:#eee;padding:0 .2em}
</style></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const callback = provider.callback();
const server = createServer(async (req, res) => {
  const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url.split('?')[0]);
  if (!m) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (m[2] && req.method === 'POST') {
      const form = await readForm(req);
      const username = (form.get('username') || '').trim();
      if (!/^[\w.@-]{1,64}$/.test(username)) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(page('Sign in', '<p role="alert">A username is 1 to 64 letters, digits, <code>.</code>, <code>_</code>, <code>-</code> or <code>@</code>.</p>'));
      }
      return await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(
      page(
        'Sign in to Gharart (local)',
        `<p>Local development provider: any username signs in.</p>
<ul><li><code>demo</code> manages <code>${escape(demoHandle)}</code></li>
<li><code>admin</code> is a platform admin</li>
<li><code>owner@other-handle</code> manages <code>other-handle</code></li></ul>
<form method="post" action="/interaction/${escape(details.uid)}/login" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" value="demo" required>
<button type="submit">Sign in</button></form>`,
      ),
    );
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page('Sign-in error', `<p role="alert">${escape(err.message)}</p><p><a href="http://127.0.0.1:${consolePort}/">Back to the console</a></p>`));
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc: issuer ${issuer}, client gharart-console, audience ${audience}, redirect ${consoleOrigins.join(' ')}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
