// The Data API answers as hosted Supabase documents it, through supabase-js: each case is the
// HTTP status and error code PostgREST's reference gives
// (https://docs.postgrest.org/en/v12/references/errors.html). The same cases run with
// supabase-py in tests/sdk/test_contract.py.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { data, freshUser, newClient } from './helpers.mjs';

async function memberOfANewTeam(tag) {
  const { client } = await freshUser(tag);
  const team = await data(client.rpc('create_team', { name: `${tag} ${randomUUID().slice(0, 6)}` }));
  return { client, teamId: team.id };
}

/** The status and code of a refused call. */
async function refused(call) {
  const { status, error } = await call;
  assert.ok(error, `expected a refusal, got ${status}`);
  return [status, error.code];
}

test('integrity violations answer PostgREST\'s documented statuses', async () => {
  const { client, teamId } = await memberOfANewTeam('js-integrity');
  const post = { team_id: teamId, body: 'hello', client_post_id: `c-${randomUUID()}` };
  await data(client.from('scheduled_posts').insert(post));
  assert.deepEqual(await refused(client.from('scheduled_posts').insert(post)), [409, '23505']);
  const unknownCampaign = { team_id: teamId, campaign_id: randomUUID() };
  assert.deepEqual(await refused(client.from('content_drafts').insert(unknownCampaign)), [409, '23503']);
  assert.deepEqual(await refused(client.from('personas').insert({ team_id: teamId })), [400, '23502']);
});

test('a row level security refusal is 403 for a signed-in user and 401 for anon', async () => {
  const { teamId } = await memberOfANewTeam('js-rls-owner');
  const { client: outsider } = await freshUser('js-rls-outsider');
  const planted = { team_id: teamId, name: 'Planted' };
  assert.deepEqual(await refused(outsider.from('personas').insert(planted)), [403, '42501']);
  assert.deepEqual(await refused(newClient().from('personas').insert(planted)), [401, '42501']);
});

test('query mistakes, bulk inserts and counts come back as PostgREST sends them', async () => {
  const { client, teamId } = await memberOfANewTeam('js-queries');
  const personas = () => client.from('personas').select('name', { count: 'exact' }).eq('team_id', teamId);
  assert.deepEqual(await refused(personas().single()), [406, 'PGRST116']);
  assert.deepEqual(await refused(client.rpc('no_such_function', {})), [404, 'PGRST202']);
  assert.deepEqual(await refused(client.from('personas').select('no_such_column')), [400, '42703']);

  await data(client.from('personas').insert([0, 1, 2].map((n) => ({ team_id: teamId, name: `P${n}` }))));
  const page = await personas().order('name').range(1, 2);
  assert.deepEqual([page.status, page.count, page.data], [206, 3, [{ name: 'P1' }, { name: 'P2' }]]);
});
