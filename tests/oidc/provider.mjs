// A real OpenID Provider for the tests: the certified `oidc-provider` (npm), on a free port of 127.0.0.1.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: {"clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//          "users": {"login": {password, email, email_verified, name, groups, acr, amr}},
//          "jwks": {"keys": [private JWK, ...]}}            (the signing keys: the tests sign tokens with them too)
// Prints one line, {"issuer": "http://127.0.0.1:PORT"}, once it listens; stops on SIGTERM or when stdin closes.
//
// The login page is the script's own small form (user name and password of CONFIG's users); a sign-in ends the
// login and consent prompts at once, with the user's acr and amr. POST /_test/users/LOGIN (JSON) changes a user
// while the provider runs (a test removes a group), GET /_test/ping says it is up.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = config.users;

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: config.jwks,
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'], // like Entra ID, always in the ID token
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    acrValues: ['urn:test:strong', 'urn:test:password'],
    conformIdTokenClaims: false, // the claims of the requested scopes go in the ID token itself
    cookies: { keys: ['test cookie key, not a secret'] },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id, email: user.email, email_verified: user.email_verified, name: user.name, groups: user.groups,
          };
        },
      };
    },
  });

  provider.use(async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
    if (ctx.path === '/_test/ping') {
      ctx.body = 'ok';
      return;
    }
    const userPath = ctx.path.match(/^\/_test\/users\/([^/]+)$/);
    if (userPath && ctx.method === 'POST') {
      users[userPath[1]] = { ...(users[userPath[1]] || {}), ...JSON.parse(await readBody(ctx.req)) };
      ctx.body = 'ok';
      return;
    }
    if (!match) {
      await next();
      return;
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = page('Sign in to the test provider', `<form method="post" action="/interaction/${escape(details.uid)}">`
        + '<label>User name <input name="login" autocomplete="username"></label>'
        + '<label>Password <input name="password" type="password" autocomplete="current-password"></label>'
        + '<button type="submit">Sign in</button></form>');
      return;
    }
    const form = new URLSearchParams(await readBody(ctx.req));
    const login = form.get('login') || '';
    const user = users[login];
    if (!user || user.password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = page('Sign in to the test provider', '<p role="alert">Wrong user name or password.</p>');
      return;
    }
    const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    const result = { login: { accountId: login, acr: user.acr, amr: user.amr }, consent: { grantId } };
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
