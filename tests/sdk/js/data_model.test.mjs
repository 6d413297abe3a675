// The data model as a web app meets it with supabase-js (issue #26).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { SERVICE_ROLE_KEY, data, freshUser, newClient } from './helpers.mjs';

test('editing a submitted post answers 409 post_not_editable', async () => {
  const author = await freshUser('js-submitted');
  const team = await data(author.client.rpc('create_team', { name: 'Submitted' }));
  const worker = newClient(SERVICE_ROLE_KEY);
  const [connection] = await data(worker.from('social_connections').insert({
    id: randomUUID(), team_id: team.id, platform: 'x', external_account_id: randomUUID(), encrypted_access_token: 'sealed', token_key_version: 'v1',
  }).select());
  const [post] = await data(author.client.from('scheduled_posts').insert({ team_id: team.id, body: 'Launch' }).select());
  const [destination] = await data(
    author.client.from('post_destinations').insert({ post_id: post.id, connection_id: connection.id }).select(),
  );
  assert.equal(destination.team_id, team.id, 'the destination takes its post\'s team');
  const checked = await data(worker.rpc('post_for_submission', { user_id: author.id, post_id: post.id }));
  const submitted = await data(worker.rpc('submit_post', {
    user_id: author.id, post_id: post.id, scheduled_at: '2099-01-01T00:00:00Z', timezone: 'UTC', fingerprint: checked.fingerprint,
  }));
  assert.equal(submitted.status, 'scheduled');

  const { error, status, data: rows } = await author.client.from('scheduled_posts').update({ body: 'Too late' }).eq('id', post.id).select();
  assert.equal(status, 409);
  assert.equal(rows, null);
  assert.equal(error.code, 'post_not_editable');
  assert.match(error.message, /can no longer be changed/);
});

test('team members embed their profiles in one query', async () => {
  const owner = await freshUser('js-embed');
  const team = await data(owner.client.rpc('create_team', { name: 'Embed' }));
  const members = await data(owner.client.from('team_members').select('role, profiles(id)').eq('team_id', team.id));
  assert.deepEqual(members, [{ role: 'owner', profiles: { id: owner.id } }]);
});
