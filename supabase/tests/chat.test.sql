-- Chat: team and direct channels, membership, messages, attachments in the `chat` bucket,
-- and the Realtime authorization of private `chat:<channel_id>` channels.
begin;
select plan(55);

select tests.create_user('owner@test.local') as owner \gset
select tests.create_user('admin@test.local') as admin \gset
select tests.create_user('alice@test.local') as alice \gset
select tests.create_user('bob@test.local') as bob \gset
select tests.create_user('other@test.local') as other \gset
select tests.create_team(:'owner', 'Alpha') as team \gset
update public.teams set member_cap = 5 where id = :'team';
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'alice');
select tests.add_team_member(:'team', :'bob');
select tests.create_team(:'other', 'Beta') as other_team \gset

-- Channels.
select tests.authenticate_as(:'alice');
select public.create_chat_channel(:'team', 'general', array[:'bob']::uuid[]) as general \gset
select public.open_direct_channel(:'team', :'bob') as dm \gset
insert into public.chat_messages (channel_id, body) values (:'general', 'Hello team') returning id as alice_message \gset
select tests.authenticate_as(:'bob');
select is(public.open_direct_channel(:'team', :'alice'), :'dm'::uuid,
    'a direct channel is unique per pair, whoever opens it');
insert into public.chat_messages (channel_id, body) values (:'general', 'Hi') returning id as bob_message \gset
insert into public.chat_messages (channel_id, body) values (:'dm', 'Just between us') returning id as dm_message \gset
select tests.clear_authentication();
select is(
    (select array_agg(user_id order by user_id) from public.chat_channel_members where channel_id = :'general'),
    (select array_agg(u order by u) from unnest(array[:'alice', :'bob']::uuid[]) as u),
    'create_chat_channel() adds the creator and the chosen teammates');
select is((select sender_id from public.chat_messages where id = :'bob_message'), :'bob'::uuid,
    'the sender is the signed-in user');

select tests.check_team_scoped('public.chat_channels', format('id = %L', :'general'), :'bob', :'other', 'name', false);
select tests.check_team_scoped('public.chat_channel_members',
    format('channel_id = %L and user_id = %L', :'general', :'alice'), :'bob', :'other', 'user_id', false);
select tests.check_team_scoped('public.chat_messages', format('id = %L', :'bob_message'), :'bob', :'other', 'body');

-- Only channel members read and post; nobody reads a direct channel they are not part of.
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('select from public.chat_messages where channel_id = %L', :'general')), 0,
    'a teammate outside a channel cannot read its messages');
select is(
    tests.rows_affected(format('insert into public.chat_messages (channel_id, body) values (%L, %L)', :'general', 'Hi')), 0,
    'a teammate outside a channel cannot post to it');
select is(
    tests.rows_affected(format('select from public.chat_messages where channel_id = %L', :'dm'))
    + tests.rows_affected(format('select from public.chat_channels where id = %L', :'dm'))
    + tests.rows_affected(format('select from public.chat_channel_members where channel_id = %L', :'dm')),
    0, 'an admin cannot see a direct channel between two others, nor its messages');
select tests.authenticate_as(:'owner');
select is(tests.rows_affected(format('select from public.chat_messages where channel_id = %L', :'dm')), 0,
    'neither can the owner');
select tests.authenticate_as(:'bob');
select throws_ok(
    format('insert into public.chat_messages (channel_id, sender_id, body) values (%L, %L, %L)', :'general', :'alice', 'Fake'),
    '42501', null, 'a member cannot post as someone else');
select is(tests.rows_affected(format('update public.chat_messages set body = %L where id = %L', 'Edited', :'alice_message')), 0,
    'a member cannot edit someone else''s message');
select is(tests.rows_affected(format('delete from public.chat_messages where id = %L', :'alice_message')), 0,
    'a member cannot delete someone else''s message');
select throws_ok(
    format('insert into public.chat_messages (channel_id, attachment_path, attachment_mime_type) values (%L, %L, %L)',
           :'general', :'dm' || '/x.png', 'image/png'),
    '23514', null, 'an attachment must be in its channel''s folder');

-- Membership.
select is(
    tests.rows_affected(format('insert into public.chat_channel_members (channel_id, team_id, user_id) values (%L, %L, %L)',
                               :'general', :'team', :'owner')), 1,
    'a channel member can add a teammate to a team channel');
select throws_ok(
    format('insert into public.chat_channel_members (channel_id, team_id, user_id) values (%L, %L, %L)',
           :'general', :'team', :'other'), '23503', null, 'only teammates can be added');
select is(
    tests.rows_affected(format('insert into public.chat_channel_members (channel_id, team_id, user_id) values (%L, %L, %L)',
                               :'dm', :'team', :'admin')), 0,
    'nobody can be added to a direct channel');
select throws_ok(
    format('select public.create_chat_channel(%L, %L, %L)', :'team', 'mixed', array[:'other']::uuid[]), '22023',
    'every channel member must belong to the team', 'a channel cannot include outsiders');
select throws_ok(format('select public.open_direct_channel(%L, %L)', :'team', :'other'), '42501',
    'both people must be members of the team', 'a direct channel cannot include an outsider');
select throws_ok(format('select public.open_direct_channel(%L, %L)', :'team', :'bob'), '22023',
    'a direct channel is between two different members', 'a direct channel needs two people');
select tests.authenticate_as(:'other');
select throws_ok(format('select public.create_chat_channel(%L, %L)', :'team', 'intruders'), '42501',
    'only team members can create channels', 'an outsider cannot create a channel in the team');

-- Deleting channels: the creator, or an owner/admin for team channels.
select tests.authenticate_as(:'bob');
select is(tests.rows_affected(format('delete from public.chat_channels where id in (%L, %L)', :'general', :'dm')), 0,
    'a member who did not create a channel cannot delete it');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('select from public.chat_channels where id = %L', :'general')), 1,
    'an admin sees the team''s channels to moderate them');

-- Attachments in the chat bucket.
select tests.clear_authentication();
insert into storage.objects (bucket_id, name, owner)
values ('chat', :'general' || '/photo.png', :'bob'), ('chat', :'dm' || '/private.pdf', :'alice');
select tests.authenticate_as(:'alice');
select throws_ok(
    format('insert into public.chat_messages (channel_id, attachment_path, attachment_mime_type) values (%L, %L, %L)',
           :'general', :'general' || '/photo.png', 'image/png'),
    '42501', null, 'a member cannot attach a teammate''s upload (deleting the message would remove it)');
select tests.authenticate_as(:'bob');
insert into public.chat_messages (channel_id, attachment_path, attachment_mime_type)
values (:'general', :'general' || '/photo.png', 'image/png') returning id as photo_message \gset
select is((select array_agg(name order by name) from storage.objects where bucket_id = 'chat'),
    (select array_agg(n order by n) from unnest(array[:'general' || '/photo.png', :'dm' || '/private.pdf']) as n),
    'a member reads the attachments of their channels');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('select from storage.objects where name = %L', :'dm' || '/private.pdf')), 0,
    'nobody else reads a direct channel''s attachments');
select is(
    tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'chat', :'dm' || '/planted.png')),
    0, 'nobody else uploads into a direct channel''s folder');

-- Realtime: broadcast and presence on private channel chat:<channel_id>.
select ok(
    (select array_agg(tablename::text) from pg_catalog.pg_publication_tables where pubname = 'supabase_realtime')
        @> array['chat_channel_members', 'chat_channels', 'chat_messages'],
    'chat tables are published to Realtime');
select tests.clear_authentication();
insert into realtime.messages (topic, extension, event, payload, private)
values ('chat:' || :'dm', 'broadcast', 'typing', '{}', true), ('chat:' || :'dm', 'presence', 'sync', '{}', true);
select set_config('realtime.topic', 'chat:' || :'dm', true);
select tests.authenticate_as(:'alice');
select is(tests.rows_affected('select from realtime.messages'), 2, 'a channel member may receive its broadcasts and presence');
select is(
    tests.rows_affected($$ insert into realtime.messages (topic, extension, event, payload) values (realtime.topic(), 'broadcast', 'typing', '{}') $$),
    1, 'a channel member may broadcast on it');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected('select from realtime.messages'), 0, 'a non-member receives nothing on it');
select is(
    tests.rows_affected($$ insert into realtime.messages (topic, extension, event, payload) values (realtime.topic(), 'presence', 'track', '{}') $$),
    0, 'a non-member cannot send on it');
select set_config('realtime.topic', 'room:' || :'dm', true);
select tests.authenticate_as(:'alice');
select is(tests.rows_affected('select from realtime.messages'), 0, 'the policy covers only chat: topics');
select tests.authenticate_as_anon();
select set_config('realtime.topic', 'chat:' || :'dm', true);
select is(tests.rows_affected('select from realtime.messages'), 0, 'anon receives nothing');

-- A removed team member loses every channel at once.
select tests.authenticate_as(:'admin');
select public.remove_team_member(:'team', :'bob');
select tests.authenticate_as(:'bob');
select is(
    tests.rows_affected('select from public.chat_channels') + tests.rows_affected('select from public.chat_messages')
    + tests.rows_affected('select from storage.objects'),
    0, 'a removed member sees no channel, message or attachment');
select set_config('realtime.topic', 'chat:' || :'general', true);
select is(tests.rows_affected('select from realtime.messages'), 0, 'and can no longer join their Realtime channels');

-- Deleting a channel deletes its messages and queues their attachments for removal.
select tests.authenticate_as(:'alice');
select is(tests.rows_affected(format('delete from public.chat_channels where id = %L', :'general')), 1,
    'the creator can delete a channel');
select tests.clear_authentication();
select is((select count(*)::int from public.chat_messages where channel_id = :'general'), 0, 'its messages are gone');
select is(
    (select array_agg(format('%s:%s', bucket_id, object_name)) from app_private.storage_cleanup_queue),
    array['chat:' || :'general' || '/photo.png'], 'its attachments are queued for removal');

select * from finish();
rollback;
