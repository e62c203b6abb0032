// A real OpenID Connect provider for the SSO tests (panva's oidc-provider, certified by the
// OpenID Foundation). Configured entirely by the environment the test fixture sets:
//
//   OIDC_PORT            port to listen on (127.0.0.1)
//   OIDC_JWKS_FILE       private JWKS (JSON) the provider signs with; the tests made the key
//   OIDC_REDIRECT_URIS   comma-separated redirect URIs of the Modelyard client
//
// Accounts: devInteractions (the package's own login form) accepts any login name; the
// claims below decide who is who. Consent is granted for the first-party clients so the
// browser sees one form. Clients: "modelyard" (the platform server, code flow + PKCE) and
// "modelyard-batch" (a machine, client credentials, JWT access tokens for the API).
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(readFileSync(process.env.OIDC_JWKS_FILE, 'utf8'));
const redirectUris = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);

const GROUPS = {
  alice: ['ml-validators', 'staff'],
  dana: ['ml-developers', 'staff'],
  zed: ['marketing'],
  vera: ['ml-validators'],
};
const MACHINE_GROUPS = { 'modelyard-batch': ['ml-developers'] };
const API_AUDIENCE = 'urn:modelyard:api';

const configuration = {
  clients: [
    {
      client_id: 'modelyard',
      client_secret: 'modelyard-test-secret',
      redirect_uris: redirectUris,
      post_logout_redirect_uris: redirectUris.map((u) => new URL('/login', u).toString()),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'modelyard-batch',
      client_secret: 'modelyard-batch-secret',
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  jwks,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups', 'api'],
  // Scope claims go into the ID token, which is what the platform server verifies.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      preferred_username: id,
      name: id.charAt(0).toUpperCase() + id.slice(1),
      email: `${id}@bank.test`,
      groups: GROUPS[id] || [],
    }),
  }),
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, client, oneOf) => {
        if (oneOf) return oneOf;
        return client.clientId === 'modelyard-batch' ? API_AUDIENCE : undefined;
      },
      useGrantedResource: async () => false,
      getResourceServerInfo: async () => ({
        scope: 'api',
        audience: API_AUDIENCE,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
      }),
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    const groups = MACHINE_GROUPS[token.clientId];
    if (token.kind === 'ClientCredentials' && groups) {
      return { groups, preferred_username: token.clientId };
    }
    return undefined;
  },
  pkce: { required: () => true },
  ttl: { IdToken: 600, AccessToken: 600, ClientCredentials: 600, Session: 3600, Grant: 3600 },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
