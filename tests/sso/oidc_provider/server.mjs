// A certified OpenID provider (panva/oidc-provider) for the SSO tests, on 127.0.0.1 only.
// Configuration comes from the environment the test fixture sets:
//   OIDC_PORT     the port to listen on
//   OIDC_CLIENTS  JSON list of oidc-provider client metadata (client_id, client_secret, redirect_uris...)
//   OIDC_USERS    JSON object {login: {password, claims: {sub, email, name, groups...}}}
// Every authorization request must carry a PKCE code challenge (S256). The login page checks the password; consent
// is implied (the clients are the organisation's own applications). Prints "ready <issuer>" once listening.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS);
const users = JSON.parse(process.env.OIDC_USERS);
const bySub = Object.fromEntries(Object.values(users).map((user) => [user.claims.sub, user.claims]));

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const claims = bySub[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ ...claims }) };
  },
  // First-party clients: the grant covers what they ask for, without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head><body>
<h1>Test IdP sign-in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="username">IdP username</label> <input id="username" name="username" autocomplete="off">
<label for="password">IdP password</label> <input id="password" name="password" type="password">
<button type="submit">Sign in to the IdP</button></form></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (req.method === 'POST' && match[2]) {
    const form = await readForm(req);
    const user = users[form.get('username')];
    if (!user || user.password !== form.get('password')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(loginPage(details.uid, 'Wrong username or password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.claims.sub } },
      { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name !== 'login') {
    // Consent is implied for first-party clients (see loadExistingGrant); finish with what was asked.
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(loginPage(details.uid, ''));
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${err.message}`);
    });
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
