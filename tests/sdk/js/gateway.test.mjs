// The API gateway as a browser and API tools meet it on hosted Supabase.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ANON_KEY, SERVICE_ROLE_KEY, SUPABASE_URL } from './helpers.mjs';

test('the REST root is PostgREST\'s OpenAPI description, for secret keys only', async () => {
  const spec = await fetch(`${SUPABASE_URL}/rest/v1/`, { headers: { apikey: SERVICE_ROLE_KEY } });
  assert.equal(spec.status, 200);
  const body = await spec.json();
  assert.equal(body.swagger, '2.0');
  assert.equal(body.definitions.teams.properties.id.format, 'uuid');
  assert.ok(body.paths['/teams'].get && body.paths['/rpc/create_team'].post);

  const anon = await fetch(`${SUPABASE_URL}/rest/v1/`, { headers: { apikey: ANON_KEY } });
  assert.equal(anon.status, 403);
});

test('preflights need no API key and answers allow the page to read them', async () => {
  for (const path of ['/rest/v1/teams', '/auth/v1/token?grant_type=password', '/storage/v1/object/list/avatars']) {
    const preflight = await fetch(`${SUPABASE_URL}${path}`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:5173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'apikey, authorization, content-type, x-client-info',
      },
    });
    assert.ok([200, 204].includes(preflight.status), `${path}: ${preflight.status}`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-headers'), /apikey/);
  }
  // What a page's fetch may read: the origin allowed, Content-Range (supabase-js's counts) exposed.
  const raw = await fetch(`${SUPABASE_URL}/rest/v1/teams`, { headers: { apikey: ANON_KEY, Origin: 'http://localhost:5173' } });
  assert.equal(raw.headers.get('access-control-allow-origin'), '*');
  assert.match(raw.headers.get('access-control-expose-headers'), /Content-Range/);
});
