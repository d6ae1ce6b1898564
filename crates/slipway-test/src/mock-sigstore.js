// A local Fulcio + Rekor for Slipway's keyless tests: a small HTTP server over the handlers of
// @sigstore/mock (which is a library of handlers, not a server).
//
//   node mock-sigstore.js TRUSTED_ROOT_OUT
//
// Listens on 127.0.0.1 (a free port), writes a trusted_root.json naming the mock Fulcio root and
// Rekor key to TRUSTED_ROOT_OUT, then prints one line `{"port": N}` on stdout.
//
// Like the real Rekor, uploading an entry that is already in the log answers 409 Conflict with
// the existing entry's Location, and GET /api/v1/log/entries/UUID returns it. GET /__stats
// counts requests (`requests`: all of them), so tests can check what a sign run asked for. POST /__fail?n=K makes the
// next K Rekor uploads answer 503 (to exercise retries). The OIDC token is not verified (the
// mock takes the `sub` claim as the certificate identity and `iss` as the issuer).
'use strict';

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const mock = require('@sigstore/mock');

// Canonical JSON (keys sorted at every level): what Rekor compares entries by.
function canonicalize(v) {
  if (Array.isArray(v)) return `[${v.map(canonicalize).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalize(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

async function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: mock-sigstore.js TRUSTED_ROOT_OUT');
    process.exit(2);
  }
  const caKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const logKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await mock.initializeCTLog(caKeys);
  const ca = await mock.initializeCA(caKeys, ctlog);
  const fulcio = mock.fulcioHandler(ca);
  const tlog = await mock.initializeTLog('http://127.0.0.1', logKeys);
  const rekor = mock.rekorHandler(tlog);

  const entries = new Map(); // uuid -> response body (JSON text)
  const byContent = new Map(); // sha256(canonical proposed entry) -> uuid
  const stats = { certificates: 0, uploads: 0, conflicts: 0, entries: 0, gets: 0, requests: 0 };
  let failNext = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://127.0.0.1');
      const send = (status, text, headers = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(text);
      };
      // Every request but the test's own controls, so a test can tell nothing was asked.
      if (url.pathname !== '/__stats' && url.pathname !== '/__fail') stats.requests += 1;
      try {
        if (req.method === 'POST' && url.pathname === fulcio.path) {
          stats.certificates += 1;
          const r = await fulcio.fn(body);
          return send(r.statusCode, r.response);
        }
        if (req.method === 'POST' && url.pathname === rekor.path) {
          if (failNext > 0) {
            failNext -= 1;
            return send(503, JSON.stringify({ code: 503, message: 'injected failure' }));
          }
          stats.uploads += 1;
          const key = crypto.createHash('sha256').update(canonicalize(JSON.parse(body))).digest('hex');
          const existing = byContent.get(key);
          if (existing) {
            stats.conflicts += 1;
            return send(
              409,
              JSON.stringify({ code: 409, message: `an equivalent entry already exists in the transparency log with UUID ${existing}` }),
              { Location: `/api/v1/log/entries/${existing}` },
            );
          }
          const r = await rekor.fn(body);
          if (r.statusCode === 201) {
            const uuid = Object.keys(JSON.parse(r.response))[0];
            entries.set(uuid, r.response);
            byContent.set(key, uuid);
            stats.entries += 1;
            return send(201, r.response, { Location: `/api/v1/log/entries/${uuid}` });
          }
          return send(r.statusCode, r.response);
        }
        if (req.method === 'GET' && url.pathname.startsWith('/api/v1/log/entries/')) {
          stats.gets += 1;
          const uuid = url.pathname.split('/').pop();
          const e = entries.get(uuid);
          return e ? send(200, e) : send(404, JSON.stringify({ code: 404, message: 'not found' }));
        }
        if (req.method === 'GET' && url.pathname === '/__stats') {
          return send(200, JSON.stringify(stats));
        }
        if (req.method === 'POST' && url.pathname === '/__fail') {
          failNext = Number(url.searchParams.get('n') || '1');
          return send(200, '{}');
        }
        return send(404, JSON.stringify({ code: 404, message: `no route ${req.method} ${url.pathname}` }));
      } catch (e) {
        return send(500, JSON.stringify({ code: 500, message: String(e) }));
      }
    });
  });

  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    const base = `http://127.0.0.1:${port}`;
    const start = new Date(Date.now() - 3600 * 1000).toISOString();
    const rekorDer = logKeys.publicKey.export({ format: 'der', type: 'spki' });
    const ctDer = caKeys.publicKey.export({ format: 'der', type: 'spki' });
    const root = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [{
        baseUrl: base,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: rekorDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: crypto.createHash('sha256').update(rekorDer).digest('base64') },
      }],
      certificateAuthorities: [{
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: base,
        certChain: { certificates: [{ rawBytes: ca.rootCertificate.toString('base64') }] },
        validFor: { start },
      }],
      ctlogs: [{
        baseUrl: base,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: ctDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: crypto.createHash('sha256').update(ctDer).digest('base64') },
      }],
    };
    fs.writeFileSync(out, JSON.stringify(root, null, 2));
    process.stdout.write(JSON.stringify({ port }) + '\n');
  });
  // Stop when the test that started us goes away.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
