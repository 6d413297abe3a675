-- Storage paths and publishing hardening (issue #17): object paths that cannot leave their
-- folder, library sizes taken from Storage, submissions bound to what was checked, media
-- replaced after submission detected at the claim, claim caps for crashed dispatchers and
-- executors, and the worker's `job:` idempotency keys.
begin;
select plan(43);

select tests.create_user('harden-owner@test.local') as owner \gset
select tests.create_user('harden-member@test.local') as member \gset
select tests.create_team(:'owner', 'Hardening team') as team \gset
select tests.add_team_member(:'team', :'member');
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', 'harden-x', 'sealed', 'v1'),
       (gen_random_uuid(), :'team', 'linkedin', 'harden-li', 'sealed', 'v1');
select id as x_account from public.social_connections where external_account_id = 'harden-x' \gset
select id as li_account from public.social_connections where external_account_id = 'harden-li' \gset

-- 1. Object paths: one rule, every hostile spelling refused.
select ok(app_private.is_safe_object_path(:'team' || '/brand/logo.png'), 'a plain path is safe');
select ok(not app_private.is_safe_object_path(spelling), format('refused: %s', replace(spelling, E'\n', '<newline>')))
from unnest(array[
    :'team' || '/../B/x.png', :'team' || '/./x', :'team' || '//x', :'team' || '/%2e%2e/x',
    :'team' || E'\\..\\x', :'team' || '/x?y', :'team' || '/x#y', :'team' || E'/x\ny', :'team' || '/x/',
    :'team' || '/..', repeat('a/', 600) || 'x']) as spelling;

select tests.authenticate_as(:'member');
select throws_ok(format($$insert into public.content_library_assets (team_id, object_path, mime_type)
                          values (%L, %L, 'image/png')$$, :'team', :'team' || '/../B/x.png'),
    '23514', null, 'a library row cannot name another folder');
select tests.clear_authentication();
select throws_ok(format($$insert into public.assets (user_id, team_id, kind, storage_path, mime_type, size_bytes)
                          values (%L, %L, 'image', %L, 'image/png', 1)$$, :'owner', :'team', :'team' || '/j/./0.png'),
    '23514', null, 'nor a generated asset');
select tests.authenticate_as(:'owner');
select public.create_chat_channel(:'team', 'hardening', '{}') as channel \gset
select tests.clear_authentication();
select throws_ok(format($$insert into public.chat_messages (channel_id, attachment_path, attachment_mime_type)
                          values (%L, %L, 'image/png')$$, :'channel', :'channel' || '/a/../../x.png'),
    '23514', null, 'nor a chat attachment');

-- 2. Library sizes and types are Storage's, never the client's.
insert into storage.objects (bucket_id, name, metadata)
values ('library', :'team' || '/big.png', '{"size": 31457280, "mimetype": "image/png", "eTag": "\"e1\""}');
select tests.authenticate_as(:'member');
insert into public.content_library_assets (team_id, object_path, mime_type, size_bytes)
values (:'team', :'team' || '/big.png', 'image/gif', 1) returning id as big_asset \gset
select is((select (size_bytes, mime_type)::text from public.content_library_assets where id = :'big_asset'),
    '(31457280,image/png)', 'the size and type a client claims are replaced by Storage''s');
select throws_ok(format($$insert into public.content_library_assets (team_id, object_path, mime_type, size_bytes)
                          values (%L, %L, 'image/png', 1)$$, :'team', :'team' || '/later.png'),
    '23503', null, 'a row whose file is not uploaded yet is refused (issue #26)');
select throws_ok(format('update public.content_library_assets set size_bytes = 1 where id = %L', :'big_asset'),
    '42501', null, 'clients cannot write the size');
select tests.clear_authentication();
insert into storage.objects (bucket_id, name, metadata)
values ('library', :'team' || '/later.png', '{"size": 2048, "mimetype": "image/jpeg", "eTag": "\"e2\""}');
select tests.authenticate_as(:'member');
insert into public.content_library_assets (team_id, object_path) values (:'team', :'team' || '/later.png')
returning id as later_asset \gset
select tests.clear_authentication();
select is((select (size_bytes, mime_type)::text from public.content_library_assets where id = :'later_asset'),
    '(2048,image/jpeg)', 'a row written after the upload takes its size and type');
update storage.objects set metadata = metadata || '{"size": 4096}' where name = :'team' || '/later.png';
select is((select size_bytes from public.content_library_assets where id = :'later_asset'), 4096::bigint,
    'a replaced file''s size follows');

-- 3. A submission is bound to what the worker checked.
select tests.authenticate_as(:'member');
insert into public.scheduled_posts (team_id, body, media)
values (:'team', 'Launch', jsonb_build_array(jsonb_build_object('libraryAssetId', :'later_asset')))
returning id as post \gset
insert into public.post_destinations (post_id, team_id, connection_id) values (:'post', :'team', :'x_account');
select tests.clear_authentication();
select public.post_for_submission(:'member', :'post') as checked \gset
select is(:'checked'::jsonb #>> '{media,0,sizeBytes}', '4096', 'the worker checks Storage''s size');
select is(public.post_for_submission(:'owner', gen_random_uuid()) ->> 'status', 'not_found', 'an unknown post is not found');
select is(public.post_for_submission(tests.create_user('harden-outsider@test.local'), :'post') ->> 'status', 'not_found',
    'nor is a post of another team');
update public.scheduled_posts set body = 'Launch (edited while moderation ran)' where id = :'post';
select is(public.submit_post(:'member', :'post', now() + interval '1 day', 'UTC', :'checked'::jsonb ->> 'fingerprint') ->> 'status',
    'changed', 'text edited after the check: refused');
update public.scheduled_posts set body = 'Launch' where id = :'post';
insert into public.post_destinations (post_id, team_id, connection_id) values (:'post', :'team', :'li_account');
select is(public.submit_post(:'member', :'post', now() + interval '1 day', 'UTC', :'checked'::jsonb ->> 'fingerprint') ->> 'status',
    'changed', 'a destination added after the check: refused');
delete from public.post_destinations where post_id = :'post' and connection_id = :'li_account';
update storage.objects set metadata = metadata || '{"eTag": "\"other\""}' where name = :'team' || '/later.png';
select is(public.submit_post(:'member', :'post', now() + interval '1 day', 'UTC', :'checked'::jsonb ->> 'fingerprint') ->> 'status',
    'changed', 'a file replaced after the check: refused');
select public.post_for_submission(:'member', :'post') ->> 'fingerprint' as fingerprint \gset
select is(public.submit_post(:'member', :'post', now() + interval '1 day', 'UTC', :'fingerprint') ->> 'status',
    'scheduled', 'what was checked is submitted');
select is((select submitted_media #>> '{0,eTag}' from public.scheduled_posts where id = :'post'), '"other"',
    'with a snapshot of its media objects');

-- 4. Media replaced after submission is noticed when the destination is claimed.
update public.post_destinations set next_attempt_at = now() where post_id = :'post';
select tests.authenticate_as_service_role();
select c ->> 'media_changed' as changed, c -> 'media' as claimed_media, c ->> 'lease_id' as lease
from jsonb_array_elements(public.claim_due_destinations(10, 60, :'post')) as c \gset
select is(:'changed'::text, 'false', 'unchanged media: the claim says so');
select is(:'claimed_media'::jsonb #>> '{0,sizeBytes}', '4096', 'and carries the submitted objects');
select is(public.finish_publish_attempt(
        (select id from public.post_destinations where post_id = :'post'), :'lease', 'retry', retry_in_ms => 0)::text,
    'scheduled', 'the attempt is retried');
select tests.clear_authentication();
update storage.objects set metadata = metadata || '{"eTag": "\"replaced\"", "size": 90000000}'
where name = :'team' || '/later.png';
select tests.authenticate_as_service_role();
select is((select c ->> 'media_changed' from jsonb_array_elements(public.claim_due_destinations(10, 60, :'post')) as c),
    'true', 'bytes replaced after submission: the claim says they changed');
select tests.clear_authentication();

-- 5. A destination whose dispatchers keep dying fails instead of being handed out forever.
create temporary view destination as
    select d.* from public.post_destinations as d where d.post_id = :'post';
update public.post_destinations set lease_expires_at = now() - interval '1 second' where post_id = :'post';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_due_destinations(10, 60, :'post')), 1, 'a dispatcher died: claimed again');
select tests.clear_authentication();
update public.post_destinations set lease_expires_at = now() - interval '1 second' where post_id = :'post';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_due_destinations(10, 60, :'post')), 1, 'and again');
select tests.clear_authentication();
update public.post_destinations set lease_expires_at = now() - interval '1 second' where post_id = :'post';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_due_destinations(10, 60, :'post')), 0,
    'after the third dispatcher died it is not handed out again');
select tests.clear_authentication();
select is((select (status, error_code)::text from destination), '(failed,dispatch_crashed)',
    'it fails, saying why');
select is((select event from public.publish_events where destination_id = (select id from destination)
           order by id desc limit 1), 'failed', 'in the history too');

-- The same for content jobs whose executor keeps dying at one step.
select public.create_content_job(:'owner', '{"prompt": "x"}', '[{"kind": "draft"}]', team_id => :'team') ->> 'job_id' as job \gset
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_content_jobs(gen_random_uuid(), 1, 60, job_id => :'job')), 1,
    'a job is claimed');
select tests.clear_authentication();
update public.content_jobs set lease_expires_at = now() - interval '1 second' where id = :'job';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_content_jobs(gen_random_uuid(), 1, 60, job_id => :'job')), 1,
    'an executor died: the job is claimed again');
select tests.clear_authentication();
update public.content_jobs set lease_expires_at = now() - interval '1 second' where id = :'job';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_content_jobs(gen_random_uuid(), 1, 60, job_id => :'job')), 1,
    'and again');
select tests.clear_authentication();
update public.content_jobs set lease_expires_at = now() - interval '1 second' where id = :'job';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_content_jobs(gen_random_uuid(), 1, 60, job_id => :'job')), 0,
    'after the third it is not claimed again');
select tests.clear_authentication();
select is((select (state, error_code)::text from public.content_jobs where id = :'job'), '(failed,executor_crashed)',
    'it fails with a clear error');

-- 6. `job:` keys are the worker's.
select tests.authenticate_as(:'member');
select throws_ok(format($$insert into public.scheduled_posts (team_id, client_post_id) values (%L, 'job:%s')$$,
                        :'team', gen_random_uuid()),
    '42501', null, 'a member cannot take a content job''s post key');
select tests.clear_authentication();

select * from finish();
rollback;
