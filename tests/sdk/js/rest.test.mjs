// PostgREST through the gateway with supabase-js: the answers hosted Supabase gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SERVICE_ROLE_KEY, data, freshUser, newClient } from './helpers.mjs';

async function createTeam(client, name) {
  return data(client.rpc('create_team', { name }));
}

test('filter values with spaces and plus signs match as on hosted', async () => {
  const { client } = await freshUser('js-spaces');
  const team = await createTeam(client, 'Spaces');
  for (const name of ['Winter launch', 'C++ fans']) {
    await data(client.from('personas').insert({ team_id: team.id, name }));
  }
  const personas = () => client.from('personas').select('name').eq('team_id', team.id);

  assert.deepEqual(await data(personas().eq('name', 'Winter launch')), [{ name: 'Winter launch' }]);
  assert.deepEqual(await data(personas().eq('name', 'C++ fans')), [{ name: 'C++ fans' }]);
  const updated = await data(
    client.from('personas').update({ initial_beliefs: 'Cold' }).eq('team_id', team.id).eq('name', 'Winter launch').select(),
  );
  assert.deepEqual(updated.map((row) => row.initial_beliefs), ['Cold']);
  const both = await data(personas().in('name', ['Winter launch', 'C++ fans']).order('name'));
  assert.deepEqual(both, [{ name: 'C++ fans' }, { name: 'Winter launch' }]);
});

test('rpc answers in the shape of the declared return type', async () => {
  const owner = await freshUser('js-shapes');
  const invitee = await freshUser('js-shaped');
  const team = await createTeam(owner.client, 'Shapes team');
  assert.equal(Array.isArray(team), false, 'returns public.teams: one row is an object');
  assert.equal(team.name, 'Shapes team');

  const invitation = await data(owner.client.rpc('create_team_invitation', { team_id: team.id, email: invitee.email }));
  assert.equal(invitation.length, 1, 'returns table: a set is an array');

  const joined = await data(invitee.client.rpc('accept_team_invitation', { token: invitation[0].token }));
  assert.equal(joined, team.id, 'returns uuid: the bare value');
  assert.equal(await data(newClient(SERVICE_ROLE_KEY).rpc('health_check')), true);
});

test('rpc asked for one object answers one object', async () => {
  const owner = await freshUser('js-single');
  const invitee = await freshUser('js-singled');
  const team = await createTeam(owner.client, 'Single');
  const invitation = await data(
    owner.client.rpc('create_team_invitation', { team_id: team.id, email: invitee.email }).single(),
  );
  assert.deepEqual(Object.keys(invitation).sort(), ['invitation_id', 'token']);
  assert.equal((await data(owner.client.rpc('create_team', { name: 'Again' }).single())).name, 'Again');
});
