// A real OpenID Provider (panva's oidc-provider, OpenID Certified) for the OIDC login tests.
// Usage: node provider.mjs PORT REDIRECT_URI
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);

const configuration = {
  clients: [
    {
      client_id: 'exchange',
      token_endpoint_auth_method: 'none',
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  acrValues: ['urn:durc:loa:2'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@idp.example.org`, email_verified: true, name: `IdP ${id}` };
      },
    };
  },
};

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
