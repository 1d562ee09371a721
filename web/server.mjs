// The local web server of the dev command and the browser tests (docs/web.md): serves the
// built console (web/dist) at http://127.0.0.1:$LOCAL_CONSOLE_PORT/, the storefront demo page
// at /storefront-demo.html?handle=…&slug=…, the runtime configuration at /config.json, and
// proxies /v2/* to the API at http://127.0.0.1:$LOCAL_API_PORT — one origin, as the stage's
// CloudFront distribution serves the bucket and the API, so no CORS is needed.
//
//   node web/server.mjs
//
// Environment: LOCAL_CONSOLE_PORT (9080), LOCAL_API_PORT (9000), LOCAL_OIDC_PORT (9081),
// OIDC_ISSUER (http://127.0.0.1:$LOCAL_OIDC_PORT), OIDC_CLIENT_ID (gharart-console),
// WEB_DIST (web/dist). It logs one line per request: method, path (no query: an OIDC
// redirect's code stays out of the log), status, and the API's request id. Never a header.
import { createReadStream, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.LOCAL_CONSOLE_PORT || 9080);
const apiPort = Number(process.env.LOCAL_API_PORT || 9000);
const oidcPort = Number(process.env.LOCAL_OIDC_PORT || 9081);
const dist = process.env.WEB_DIST || join(here, 'dist');
const config = {
  issuer: process.env.OIDC_ISSUER || `http://127.0.0.1:${oidcPort}`,
  clientId: process.env.OIDC_CLIENT_ID || 'gharart-console',
  apiBase: process.env.CONSOLE_API_BASE || '',
};

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

// The console's pages: no inline script, API and identity provider the only other origins.
const csp = [
  "default-src 'self'",
  `connect-src 'self' ${config.issuer}`,
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  `form-action 'self' ${config.issuer}`,
].join('; ');

function log(method, path, status, requestId) {
  process.stdout.write(`${new Date().toISOString()} ${method} ${path} ${status}${requestId ? ` ${requestId}` : ''}\n`);
}

function proxy(req, res, path) {
  const headers = { ...req.headers, host: `127.0.0.1:${apiPort}` };
  const upstream = request(
    { host: '127.0.0.1', port: apiPort, method: req.method, path: req.url, headers },
    (up) => {
      res.writeHead(up.statusCode || 502, up.headers);
      up.pipe(res);
      log(req.method, path, up.statusCode, up.headers['x-request-id']);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'https://errors.gharart.com/dependency-unavailable',
          title: 'API unreachable',
          status: 502,
          code: 'DEPENDENCY_UNAVAILABLE',
          detail: `The local API on port ${apiPort} did not answer (is it running?).`,
          requestId: '',
        }),
      );
    }
    log(req.method, path, 502);
  });
  req.pipe(upstream);
}

function serveFile(req, res, path) {
  let file = path === '/' ? '/index.html' : path;
  file = normalize(file).replace(/^(\.\.[/\\])+/, '');
  const full = join(dist, file);
  if (!full.startsWith(dist)) return notFound(req, res, path);
  let stat;
  try {
    stat = statSync(full);
  } catch {
    return notFound(req, res, path);
  }
  if (!stat.isFile()) return notFound(req, res, path);
  const type = types[extname(full)] || 'application/octet-stream';
  const headers = {
    'content-type': type,
    'content-length': stat.size,
    // Rebuilt often locally: always revalidate.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  // The demo page stands for a storefront that is not ours: no console policy on it.
  if (type.startsWith('text/html') && file !== '/storefront-demo.html') headers['content-security-policy'] = csp;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') res.end();
  else createReadStream(full).pipe(res);
  log(req.method, path, 200);
}

function notFound(req, res, path) {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not found\n');
  log(req.method, path, 404);
}

const server = createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path.startsWith('/v2/') || path === '/v2') return proxy(req, res, path);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' });
    res.end();
    return log(req.method, path, 405);
  }
  if (path === '/config.json') {
    const body = JSON.stringify(config);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.end(body);
    return log(req.method, path, 200);
  }
  serveFile(req, res, path);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`console: http://127.0.0.1:${port}/ (API http://127.0.0.1:${apiPort}, issuer ${config.issuer}, files ${dist})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
