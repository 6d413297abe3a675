-- What trips clients of the Data API (issue #26): profiles embeddable from team members, a
-- destination's team taken from its post, attachment and library facts from Storage, check
-- constraints named for what they check, `post_not_editable` for a submitted post, avatars.
begin;
select plan(27);

select tests.create_user('model-owner@test.local') as owner \gset
select tests.create_user('model-member@test.local') as member \gset
select tests.create_user('model-outsider@test.local') as outsider \gset
select tests.create_team(:'owner', 'Model team') as team \gset
select tests.add_team_member(:'team', :'member');
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', 'model-x', 'sealed', 'v1');
select id as connection from public.social_connections where external_account_id = 'model-x' \gset

-- 1. The relationship PostgREST embeds along.
select ok(exists (select from pg_catalog.pg_constraint
                  where conrelid = 'public.team_members'::regclass and confrelid = 'public.profiles'::regclass
                    and contype = 'f' and conkey = array[(select attnum from pg_catalog.pg_attribute
                        where attrelid = 'public.team_members'::regclass and attname = 'user_id')]),
    'team members reference their profiles (so PostgREST embeds profiles(*))');

-- 2. A destination takes its post's team.
select tests.authenticate_as(:'member');
insert into public.scheduled_posts (team_id, body) values (:'team', 'Draft') returning id as post \gset
insert into public.post_destinations (post_id, connection_id) values (:'post', :'connection') returning team_id as destination_team \gset
select is(:'destination_team'::uuid, :'team'::uuid, 'a destination inserted without team_id takes its post''s team');
select tests.authenticate_as(:'outsider');
select throws_ok(format('insert into public.post_destinations (post_id, connection_id) values (%L, %L)', :'post', :'connection'),
    '23503', format('post_id: no post %s of your teams', :'post'),
    'a post the caller cannot read is not found, whatever exists');

-- 3. Facts from Storage.
select tests.clear_authentication();
insert into storage.objects (bucket_id, name, owner_id, metadata) values
    ('library', :'team' || '/photo.jpg', :'member', '{"size": 5120, "mimetype": "image/jpeg; charset=binary"}');
select tests.authenticate_as(:'member');
insert into public.content_library_assets (team_id, object_path) values (:'team', :'team' || '/photo.jpg')
returning (size_bytes, mime_type)::text as library_facts \gset
select is(:'library_facts'::text, '(5120,image/jpeg)', 'a library asset takes its type and size from Storage');
select throws_ok(format('insert into public.content_library_assets (team_id, object_path, mime_type) values (%L, %L, %L)',
        :'team', :'team' || '/never-uploaded.png', 'image/png'),
    '23503', format('object_path: no uploaded file "%s/never-uploaded.png" in the library bucket', :'team'),
    'a library asset must name an uploaded file, and the error names the column');

select tests.authenticate_as(:'owner');
select public.create_chat_channel(:'team', 'model', array[:'member']::uuid[]) as channel \gset
select tests.clear_authentication();
insert into storage.objects (bucket_id, name, owner_id, metadata) values
    ('chat', :'channel' || '/notes.pdf', :'member', '{"size": 777, "mimetype": "application/pdf"}');
select tests.authenticate_as(:'member');
insert into public.chat_messages (channel_id, attachment_path) values (:'channel', :'channel' || '/notes.pdf')
returning (attachment_mime_type, attachment_size)::text as chat_facts \gset
select is(:'chat_facts'::text, '(application/pdf,777)',
    'an attachment without a MIME type takes its type and size from Storage');
insert into public.chat_messages (channel_id, attachment_path, attachment_mime_type, attachment_size)
values (:'channel', :'channel' || '/notes.pdf', 'image/png', 1)
returning (attachment_mime_type, attachment_size)::text as claimed_facts \gset
select is(:'claimed_facts'::text, '(application/pdf,777)', 'what a client claims is replaced by Storage''s facts');
select throws_ok(format('insert into public.chat_messages (channel_id, attachment_path) values (%L, %L)',
        :'channel', :'channel' || '/missing.png'),
    '23503', format('attachment_path: no uploaded file "%s/missing.png" in the chat bucket', :'channel'),
    'an attachment must name an uploaded file, and the error names the column');
select throws_ok(format('insert into public.chat_messages (channel_id, attachment_path) values (%L, %L)',
        :'channel', 'elsewhere/missing.png'),
    '23514', 'new row for relation "chat_messages" violates check constraint "chat_messages_attachment_path_in_channel_folder"',
    'a path outside the channel''s folder is refused by the check that says so');
select tests.clear_authentication();

select is_empty($$
    select c.conrelid::regclass::text || '.' || c.conname
    from pg_catalog.pg_constraint as c
    join pg_catalog.pg_class as t on t.oid = c.conrelid
    where c.contype = 'c' and c.connamespace = 'public'::regnamespace
      and c.conname ~ ('^' || t.relname || '_check[0-9]*$')$$,
    'no check constraint of the public schema is named only `<table>_check<n>`');

-- 4. Submitted posts: a clear refusal instead of an empty answer.
select tests.authenticate_as(:'member');
select lives_ok(format('update public.scheduled_posts set body = %L where id = %L', 'Draft, edited', :'post'),
    'a draft is editable');
select tests.clear_authentication();
select is(public.submit_post(:'member', :'post', now() + interval '1 day', 'UTC',
        public.post_for_submission(:'member', :'post') ->> 'fingerprint') ->> 'status',
    'scheduled', 'the worker schedules it');
select tests.authenticate_as(:'member');
select throws_ok(format('update public.scheduled_posts set body = %L where id = %L', 'Too late', :'post'),
    'PGRST', null, 'editing a scheduled post is refused');
select throws_like(format('update public.scheduled_posts set body = %L where id = %L', 'Too late', :'post'),
    '%"code" : "post_not_editable"%', 'with the code post_not_editable as the body PostgREST sends');
select throws_ok(format('delete from public.scheduled_posts where id = %L', :'post'),
    'PGRST', null, 'so is deleting it');
select throws_ok(format('update public.post_destinations set options = %L where post_id = %L', '{"a": 1}', :'post'),
    'PGRST', null, 'or changing a destination that is no longer a draft');
select throws_ok(format('delete from public.post_destinations where post_id = %L', :'post'),
    'PGRST', null, 'or removing it');
select tests.authenticate_as(:'outsider');
select is(tests.rows_affected(format('update public.scheduled_posts set body = %L where id = %L', 'Not mine', :'post')), 0,
    'another team still sees nothing to edit');
select tests.clear_authentication();
select is(public.cancel_post(:'member', :'post') ->> 'status', 'canceled', 'the worker''s RPCs still move it on');
select is((select status::text from public.post_destinations where post_id = :'post'), 'canceled',
    'its destination is canceled');

-- 5. Avatars: public images, each user writing their own folder.
select is((select (public, file_size_limit)::text from storage.buckets where id = 'avatars'), '(t,2097152)',
    'the avatars bucket is public with a 2 MiB limit');
select ok((select allowed_mime_types @> '{image/png,image/jpeg,image/webp}' and not allowed_mime_types && '{image/svg+xml}'
           from storage.buckets where id = 'avatars'), 'it takes raster images only');
select tests.authenticate_as(:'member');
select is(tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'avatars', :'member' || '/me.png')),
    1, 'a user uploads into their own folder');
select is(tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'avatars', :'owner' || '/me.png')),
    0, 'not into another user''s');
select is(tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'avatars', 'loose.png')),
    0, 'nor outside any folder');
select tests.authenticate_as(:'owner');
select is(tests.rows_affected(format('update storage.objects set metadata = %L where bucket_id = %L and name = %L', '{}', 'avatars', :'member' || '/me.png')),
    0, 'nobody else replaces a user''s avatar');
select is(tests.rows_affected(format('delete from storage.objects where bucket_id = %L and name = %L', 'avatars', :'member' || '/me.png')),
    0, 'nor deletes it');
select tests.clear_authentication();

select * from finish();
rollback;
