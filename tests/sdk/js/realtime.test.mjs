// Realtime with supabase-js's own client (serializer 2.0.0, binary broadcasts) against the local
// stand-in: chat, typing and presence, job progress and post status, live and only for those the
// policies allow. Absence is proven without waiting: a change a user may see, committed after
// the one they may not, arrives; changes reach a socket in commit order, so the earlier one
// would have arrived first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ANON_KEY, SERVICE_ROLE_KEY, data, freshUser, newClient } from './helpers.mjs';

const admin = newClient(SERVICE_ROLE_KEY);
const clients = [];
after(async () => {
  for (const client of clients) await client.removeAllChannels();
});

/** A signed-in user whose client is closed after the tests. */
async function user(tag) {
  const made = await freshUser(tag);
  clients.push(made.client);
  return made;
}

/** Waits for `predicate()` to hold, failing with `what` after the deadline. */
async function until(predicate, what, deadlineMs = 10_000) {
  const deadline = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Subscribes and resolves once joined; rejects with the server's refusal. */
function subscribe(channel) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') resolve(channel);
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(error ?? new Error(status));
    });
  });
}

/** A channel of `client` following `table`'s changes into the returned array. */
async function follow(client, table, { event = '*', filter } = {}) {
  const received = [];
  const channel = client
    .channel(`db-${table}-${randomUUID()}`)
    .on('postgres_changes', { event, schema: 'public', table, ...(filter ? { filter } : {}) }, (change) =>
      received.push(change),
    );
  await subscribe(channel);
  return received;
}

/** A team owned by a new user, with a second member who is in none of its chat channels yet. */
async function team(tag) {
  const owner = await user(`${tag}-owner`);
  const member = await user(`${tag}-member`);
  const created = await data(owner.client.rpc('create_team', { name: `${tag} ${randomUUID().slice(0, 6)}` }));
  await data(admin.from('team_members').insert({ team_id: created.id, user_id: member.id, role: 'member' }));
  return { id: created.id, owner, member };
}

async function chatChannel(client, teamId, name, memberIds = []) {
  return data(client.rpc('create_chat_channel', { team_id: teamId, name, member_ids: memberIds }));
}

async function post(client, channelId, body) {
  return data(client.from('chat_messages').insert({ channel_id: channelId, body }).select().single());
}

const { jwt_secret: PROJECT_SECRET } = JSON.parse(readFileSync(process.env.E2E_KEYS_FILE, 'utf8'));

/** An HS256 token of the project's legacy secret (or another), as Auth would sign it, with the given claims. */
function signed(claims, secret = PROJECT_SECRET) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

test('a new chat message reaches the channel members only, not a teammate outside it or another team', async () => {
  const alpha = await team('rt-chat');
  const beta = await team('rt-other');
  const general = await chatChannel(alpha.owner.client, alpha.id, 'general');
  const random = await chatChannel(alpha.owner.client, alpha.id, 'random', [alpha.member.id]);
  const elsewhere = await chatChannel(beta.owner.client, beta.id, 'elsewhere');

  const ownerSees = await follow(alpha.owner.client, 'chat_messages', { event: 'INSERT' });
  const ownerGeneral = await follow(alpha.owner.client, 'chat_messages', { filter: `channel_id=eq.${general}` });
  const teammateSees = await follow(alpha.member.client, 'chat_messages', { event: 'INSERT' });
  const outsiderSees = await follow(beta.owner.client, 'chat_messages');

  const secret = await post(alpha.owner.client, general, 'Members of general only');
  const shared = await post(alpha.owner.client, random, 'Everyone in random');
  const theirs = await post(beta.owner.client, elsewhere, 'Beta only');

  await until(() => ownerSees.length === 2, 'the owner to receive both messages');
  assert.deepEqual(ownerSees.map((c) => c.new.body), [secret.body, shared.body]);
  const [change] = ownerSees;
  assert.equal(change.eventType, 'INSERT');
  assert.equal(change.schema, 'public');
  assert.equal(change.table, 'chat_messages');
  assert.equal(change.new.id, secret.id, 'an int8 column arrives as a number');
  assert.equal(change.new.channel_id, general);
  assert.ok(!Number.isNaN(Date.parse(change.commit_timestamp)));
  assert.deepEqual(change.old, {});

  await until(() => teammateSees.length === 1, 'the teammate to receive the random message');
  assert.deepEqual(teammateSees.map((c) => c.new.id), [shared.id], 'not the message of a channel they are not in');
  await until(() => outsiderSees.length === 1, 'the other team to receive its own message');
  assert.deepEqual(outsiderSees.map((c) => c.new.id), [theirs.id]);
  await until(() => ownerGeneral.length === 1, 'the filtered listener');
  assert.equal(ownerGeneral[0].new.id, secret.id, 'a filter on channel_id keeps the other channel out');
});

test('edits and deletes arrive; a delete carries only the primary key', async () => {
  const alpha = await team('rt-edit');
  const general = await chatChannel(alpha.owner.client, alpha.id, 'general', [alpha.member.id]);
  const seen = await follow(alpha.member.client, 'chat_messages', { filter: `channel_id=eq.${general}` });
  // Each change is awaited before the next: Realtime checks a change against the row as it is
  // when the change is read, so an insert read after its row was deleted reaches nobody.
  const message = await post(alpha.owner.client, general, 'Frist');
  await until(() => seen.length === 1, 'the insert');
  await data(alpha.owner.client.from('chat_messages').update({ body: 'First' }).eq('id', message.id));
  await until(() => seen.length === 2, 'the update');
  await data(alpha.owner.client.from('chat_messages').delete().eq('id', message.id));
  await until(() => seen.length === 3, 'the delete');
  assert.deepEqual(seen.map((c) => c.eventType), ['INSERT', 'UPDATE', 'DELETE']);
  assert.equal(seen[1].new.body, 'First');
  assert.deepEqual(seen[1].old, { id: message.id });
  assert.deepEqual(seen[2].old, { id: message.id });
  assert.deepEqual(seen[2].new, {});
});

test('channels created and deleted, and members joining and leaving, reach the channel members live', async () => {
  const alpha = await team('rt-channels');
  const beta = await team('rt-channels-other');
  const memberChannels = await follow(alpha.member.client, 'chat_channels');
  const ownerMemberships = await follow(alpha.owner.client, 'chat_channel_members');
  const outsiderChannels = await follow(beta.owner.client, 'chat_channels');

  const launch = await chatChannel(alpha.owner.client, alpha.id, 'launch', [alpha.member.id]);
  await until(() => memberChannels.length === 1, 'the new channel to reach its member');
  assert.deepEqual([memberChannels[0].eventType, memberChannels[0].new.name], ['INSERT', 'launch']);
  await until(() => ownerMemberships.length === 2, 'the creator and the member joining');
  assert.deepEqual(
    ownerMemberships.map((c) => c.new.user_id).sort(),
    [alpha.owner.id, alpha.member.id].sort(),
  );

  await data(
    alpha.member.client.from('chat_channel_members').delete().eq('channel_id', launch).eq('user_id', alpha.member.id),
  );
  await until(() => ownerMemberships.length === 3, 'the member leaving');
  assert.deepEqual([ownerMemberships[2].eventType, ownerMemberships[2].old.user_id], ['DELETE', alpha.member.id]);

  // Another team's channel, created after alpha's: what reaches beta's owner first is theirs.
  const theirs = await chatChannel(beta.owner.client, beta.id, 'theirs');
  await until(() => outsiderChannels.length >= 1, "beta's own channel");
  assert.equal(outsiderChannels[0].new.id, theirs, "alpha's channels never reached beta");

  const standup = await chatChannel(alpha.owner.client, alpha.id, 'standup', [alpha.member.id]);
  await until(() => memberChannels.length === 2, 'the second channel');
  await data(alpha.owner.client.from('chat_channels').delete().eq('id', standup));
  await until(() => memberChannels.length === 3, 'the channel being deleted');
  assert.deepEqual([memberChannels[2].eventType, memberChannels[2].old.id], ['DELETE', standup]);
});

test('typing (broadcast) reaches the members of a private chat channel, and outsiders cannot join it', async () => {
  const alpha = await team('rt-typing');
  const outsider = await user('rt-typing-outsider');
  const general = await chatChannel(alpha.owner.client, alpha.id, 'general', [alpha.member.id]);
  const topic = `chat:${general}`;
  const typing = [];
  const listening = alpha.member.client
    .channel(topic, { config: { private: true } })
    .on('broadcast', { event: 'typing' }, (message) => typing.push(message.payload));
  await subscribe(listening);
  const sending = await subscribe(
    alpha.owner.client.channel(topic, { config: { private: true, broadcast: { ack: true } } }),
  );
  assert.equal(await sending.send({ type: 'broadcast', event: 'typing', payload: { user: alpha.owner.id } }), 'ok');
  await until(() => typing.length === 1, 'the typing event');
  assert.deepEqual(typing, [{ user: alpha.owner.id }]);

  const notes = await chatChannel(alpha.owner.client, alpha.id, 'notes');
  for (const [stranger, closed] of [[outsider.client, topic], [alpha.member.client, `chat:${notes}`]]) {
    await assert.rejects(subscribe(stranger.channel(closed, { config: { private: true } })), {
      message: `Unauthorized: You do not have permissions to read from this Channel topic: ${closed}`,
    });
  }
});

test('presence lists who is online and drops who left', async () => {
  const alpha = await team('rt-presence');
  const general = await chatChannel(alpha.owner.client, alpha.id, 'general', [alpha.member.id]);
  const join = async (member) => {
    const channel = member.client.channel(`chat:${general}`, {
      config: { private: true, presence: { key: member.id } },
    });
    channel.on('presence', { event: 'sync' }, () => {});
    await subscribe(channel);
    assert.equal(await channel.track({ online_at: new Date().toISOString() }), 'ok');
    return channel;
  };
  const ownerChannel = await join(alpha.owner);
  const memberChannel = await join(alpha.member);
  const online = () => Object.keys(ownerChannel.presenceState()).sort();
  await until(() => online().length === 2, 'both members online');
  assert.deepEqual(online(), [alpha.owner.id, alpha.member.id].sort());
  await alpha.member.client.removeChannel(memberChannel);
  await until(() => online().length === 1, 'the member who left to drop out');
  assert.deepEqual(online(), [alpha.owner.id]);
});

test('an expired token is refused, and a token that expires stops delivery', async () => {
  const alpha = await team('rt-expiry');
  const claims = { sub: alpha.owner.id, role: 'authenticated', aud: 'authenticated' };
  const now = Math.floor(Date.now() / 1000);

  const expired = newClient(ANON_KEY);
  clients.push(expired);
  await expired.realtime.setAuth(signed({ ...claims, iat: now - 120, exp: now - 60 }));
  await assert.rejects(subscribe(expired.channel(`db-${randomUUID()}`)), {
    message: /^InvalidJWTToken: Token has expired \d+ seconds ago$/,
  });

  const shortLived = newClient(ANON_KEY);
  clients.push(shortLived);
  await shortLived.realtime.setAuth(signed({ ...claims, iat: now, exp: now + 2 }));
  const notices = [];
  const statuses = [];
  const channel = shortLived
    .channel(`db-${randomUUID()}`)
    .on('system', {}, (notice) => notices.push(notice));
  channel.subscribe((status) => statuses.push(status));
  await until(() => statuses.includes('SUBSCRIBED'), 'the join');
  await until(() => statuses.includes('CLOSED'), 'the server to close the channel at expiry');
  assert.ok(
    notices.some((n) => n.extension === 'system' && n.status === 'error' && /^Token has expired/.test(n.message)),
    JSON.stringify(notices),
  );
});

test("a job's progress arrives in order, and a post destination's status changes arrive", async () => {
  const alpha = await team('rt-progress');
  const job = await data(
    admin
      .from('content_jobs')
      .insert({ user_id: alpha.owner.id, team_id: alpha.id, brief: {}, chain: [], steps_total: 3 })
      .select()
      .single(),
  );
  const progress = await follow(alpha.member.client, 'content_jobs', { event: 'UPDATE', filter: `id=eq.${job.id}` });
  const steps = [
    { state: 'running', current_step: 1 },
    { state: 'running', current_step: 2 },
    { state: 'done', current_step: 3 },
  ];
  for (const step of steps) await data(admin.from('content_jobs').update(step).eq('id', job.id));
  await until(() => progress.length === 3, 'three progress updates');
  assert.deepEqual(
    progress.map((c) => ({ state: c.new.state, current_step: c.new.current_step })),
    steps,
  );

  const connection = await data(
    admin
      .from('social_connections')
      .insert({
        id: randomUUID(), team_id: alpha.id, platform: 'x', external_account_id: randomUUID(),
        encrypted_access_token: 'sealed', token_key_version: 'v1',
      })
      .select('id')
      .single(),
  );
  const scheduled = await data(admin.from('scheduled_posts').insert({ team_id: alpha.id, body: 'Hi' }).select('id').single());
  const destination = await data(
    admin
      .from('post_destinations')
      .insert({ post_id: scheduled.id, team_id: alpha.id, connection_id: connection.id })
      .select('id')
      .single(),
  );
  const statuses = await follow(alpha.owner.client, 'post_destinations', {
    event: 'UPDATE',
    filter: `id=eq.${destination.id}`,
  });
  for (const status of ['scheduled', 'publishing', 'published']) {
    await data(admin.from('post_destinations').update({ status }).eq('id', destination.id));
  }
  await until(() => statuses.length === 3, 'three status changes');
  assert.deepEqual(statuses.map((c) => c.new.status), ['scheduled', 'publishing', 'published']);
});

/** A user's access token as Auth signs it, valid for `seconds` from now. */
function accessToken(userId, seconds, secret = PROJECT_SECRET) {
  const now = Math.floor(Date.now() / 1000);
  return signed({ sub: userId, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + seconds }, secret);
}

/** A client of its own whose Realtime socket carries `token`, as after `setAuth` in an app. */
async function socketWith(token) {
  const client = newClient(ANON_KEY);
  clients.push(client);
  await client.realtime.setAuth(token);
  return client;
}

const SUBSCRIBED_TO_POSTGRES = (notice) => notice.extension === 'postgres_changes' && notice.message === 'Subscribed to PostgreSQL';

/** Sends `token` on `client`'s socket and waits for the server to subscribe the changes again with it. */
async function refresh(client, token, notices) {
  const before = notices.filter(SUBSCRIBED_TO_POSTGRES).length;
  await client.realtime.setAuth(token);
  await until(() => notices.filter(SUBSCRIBED_TO_POSTGRES).length > before, 'the changes subscribed with the new token');
}

test("a refreshed token keeps a member's channel receiving changes and broadcasts past the old token's expiry", async () => {
  const alpha = await team('rt-refresh');
  const general = await chatChannel(alpha.owner.client, alpha.id, 'general', [alpha.member.id]);
  const topic = `chat:${general}`;
  const expiresIn = 3;
  const member = await socketWith(accessToken(alpha.member.id, expiresIn));
  const expiry = Date.now() + expiresIn * 1000;
  const [messages, typing, notices] = [[], [], []];
  const channel = member
    .channel(topic, { config: { private: true } })
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'chat_messages', filter: `channel_id=eq.${general}` },
        (change) => messages.push(change.new.body))
    .on('broadcast', { event: 'typing' }, (message) => typing.push(message.payload))
    .on('system', {}, (notice) => notices.push(notice));
  await subscribe(channel);
  const sending = await subscribe(
    alpha.owner.client.channel(topic, { config: { private: true, broadcast: { ack: true } } }),
  );

  await refresh(member, accessToken(alpha.member.id, 3600), notices);
  // Past the first token's expiry, which would have closed the channel.
  await new Promise((resolve) => setTimeout(resolve, expiry + 1500 - Date.now()));
  await post(alpha.owner.client, general, 'Still here?');
  assert.equal(await sending.send({ type: 'broadcast', event: 'typing', payload: { user: alpha.owner.id } }), 'ok');
  await until(() => messages.length === 1 && typing.length === 1, 'the message and the typing event');
  assert.deepEqual(messages, ['Still here?']);
  assert.deepEqual(typing, [{ user: alpha.owner.id }]);
  assert.equal(channel.state, 'joined');
  assert.ok(!notices.some((notice) => notice.status === 'error'), JSON.stringify(notices));
});

test('a refresh to an expired or foreign-signed token ends the channel with hosted Realtime\'s message', async () => {
  const alpha = await team('rt-refused');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: alpha.member.id, role: 'authenticated', aud: 'authenticated' };
  const refusals = [
    [signed({ ...claims, iat: now - 120, exp: now - 60 }), /^Token has expired \d+ seconds ago$/],
    [accessToken(alpha.member.id, 3600, 'another project\'s secret of at least 32 characters'), /^:signature_error$/],
  ];
  for (const [token, message] of refusals) {
    const member = await socketWith(accessToken(alpha.member.id, 3600));
    const [notices, statuses] = [[], []];
    const channel = member
      .channel(`db-${randomUUID()}`)
      .on('postgres_changes', { event: '*', schema: 'public', table: 'chat_messages' }, () => {})
      .on('system', {}, (notice) => notices.push(notice));
    channel.subscribe((status) => statuses.push(status));
    await until(() => statuses.includes('SUBSCRIBED'), 'the join');
    await member.realtime.setAuth(token);
    await until(() => statuses.includes('CLOSED'), 'the server to close the channel');
    const refusal = notices.find((notice) => notice.extension === 'system' && notice.status === 'error');
    assert.match(refusal?.message ?? JSON.stringify(notices), message);
  }
});

test('a refresh to another user\'s token changes what RLS lets through', async () => {
  const alpha = await team('rt-switch');
  const ownerOnly = await chatChannel(alpha.owner.client, alpha.id, 'owner-only');
  const shared = await chatChannel(alpha.owner.client, alpha.id, 'shared', [alpha.member.id]);
  const socket = await socketWith(accessToken(alpha.owner.id, 3600));
  const [bodies, notices] = [[], []];
  await subscribe(
    socket
      .channel(`db-${randomUUID()}`)
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'chat_messages' }, (change) => bodies.push(change.new.body))
      .on('system', {}, (notice) => notices.push(notice)),
  );
  await post(alpha.owner.client, ownerOnly, 'for the owner');
  await until(() => bodies.length === 1, "the owner's message");

  await refresh(socket, accessToken(alpha.member.id, 3600), notices);
  await post(alpha.owner.client, ownerOnly, 'not for the member');
  await post(alpha.owner.client, shared, 'for both');
  await until(() => bodies.length === 2, "the member's message");
  assert.deepEqual(bodies, ['for the owner', 'for both'], "the owner's channel no longer reaches this socket");
});
