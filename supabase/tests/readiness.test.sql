-- What GET /readyz/deep reports: each part breaks its own check, and only its own.
begin;
select plan(17);

select tests.create_user('ready-owner@test.local') as owner \gset
select tests.create_team(:'owner') as team \gset
\set secret 'a-cron-secret-of-at-least-thirty-two-bytes'
select encode(sha256(convert_to(:'secret', 'UTF8')), 'hex') as digest \gset

select set_eq('select jobname from cron.job', 'select unnest(app_private.expected_cron_jobs())',
    'readiness expects exactly the schedules the migrations create');

select tests.authenticate_as(:'owner');
select throws_ok($$select public.readiness_report('x')$$, '42501', null, 'a signed-in user cannot read it');
select tests.authenticate_as_anon();
select throws_ok($$select public.readiness_report('x')$$, '42501', null, 'anon cannot read it');
select tests.clear_authentication();

-- A deployment as it should be: Vault holds the worker's secret, every schedule is active.
delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('https://worker.example.com', 'worker_url');
select vault.create_secret(:'secret', 'cron_secret');
update cron.job set active = true;
delete from net._http_response;
select is(public.readiness_report(:'digest') ->> 'ready', 'true', 'a healthy deployment is ready');

-- pg_cron
update cron.job set active = false where jobname = 'publish-due-posts';
select is(public.readiness_report(:'digest') -> 'checks' -> 'cron' -> 'problems',
    '["publish-due-posts is paused"]', 'a paused schedule is named');
update cron.job set active = true;
insert into cron.job_run_details (jobid, runid, status, return_message, start_time)
select jobid, (select coalesce(max(runid), 0) + 1 from cron.job_run_details), 'failed', 'ERROR: relation does not exist', now()
from cron.job where jobname = 'content-jobs-sweep';
select matches(public.readiness_report(:'digest') -> 'checks' -> 'cron' ->> 'problems',
    'content-jobs-sweep failed at .*relation does not exist', 'a schedule whose last run failed is named with why');
select is(public.readiness_report(:'digest') ->> 'ready', 'false', '... and the deployment is not ready');
insert into cron.job_run_details (jobid, runid, status, return_message, start_time)
select jobid, (select max(runid) + 1 from cron.job_run_details), 'succeeded', '1 row', now() + interval '1 second'
from cron.job where jobname = 'content-jobs-sweep';
select is(public.readiness_report(:'digest') -> 'checks' -> 'cron' ->> 'ok', 'true', 'a later run that succeeded clears it');
select cron.unschedule('storage-cleanup');
select is(public.readiness_report(:'digest') -> 'checks' -> 'cron' -> 'problems',
    '["storage-cleanup is not scheduled"]', 'a missing schedule is named');
select cron.schedule('storage-cleanup', '*/5 * * * *', 'select 1');

-- pg_net
insert into net._http_response (id, status_code, created) values (1, 200, now() - interval '2 minutes'),
                                                              (2, 401, now() - interval '1 minute');
select is(public.readiness_report(:'digest') -> 'checks' -> 'pgNet' -> 'problems',
    '["the latest delivery to the worker failed (401)"]', 'the latest failed delivery is named by its status');
insert into net._http_response (id, status_code, timed_out, error_msg, created)
values (3, null, true, 'Timeout was reached', now() - interval '50 seconds'),
       (4, 503, false, null, now() - interval '40 seconds'),
       (5, null, false, 'Could not resolve host', now() - interval '30 seconds'),
       (6, 500, false, null, now() - interval '10 minutes'),
       (7, 200, false, null, now() - interval '20 minutes'),
       (8, 200, false, null, now());
select is(public.readiness_report(:'digest') -> 'checks' -> 'pgNet',
    '{"ok": false, "queued": 0, "problems": ["5 deliveries to the worker failed in 15 minutes"], "failedLast15Minutes": 5}',
    'failures add up within 15 minutes even when the latest delivery succeeded');
delete from net._http_response where id between 3 and 6;
select is(public.readiness_report(:'digest') -> 'checks' -> 'pgNet' ->> 'ok', 'true',
    'one failure followed by a success is no problem');

-- Vault
select is(public.readiness_report(encode(sha256('another-secret'), 'hex')) -> 'checks' -> 'vault' -> 'problems',
    '["cron_secret in Vault is not this worker''s CRON_SECRET: the worker refuses pg_cron"]',
    'a cron secret other than the worker''s is named');
delete from vault.secrets where name = 'worker_url';
select is(public.readiness_report(:'digest') -> 'checks' -> 'vault' -> 'problems',
    '["worker_url is not in Vault: pg_cron reaches no worker"]', 'a missing worker_url is named');
select vault.create_secret('https://worker.example.com', 'worker_url');

-- Overdue work
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token, token_key_version)
values (gen_random_uuid(), :'team', 'x', 'x-ready', 'sealed', 'v1') returning id as account \gset
insert into public.scheduled_posts (id, team_id, client_post_id, body, created_by)
values (gen_random_uuid(), :'team', 'ready-1', 'Hello', :'owner') returning id as post \gset
insert into public.post_destinations (post_id, team_id, connection_id) values (:'post', :'team', :'account');
update public.post_destinations set status = 'scheduled', next_attempt_at = now() - interval '2 minutes' where post_id = :'post';
select is(public.readiness_report(:'digest') -> 'checks' -> 'publishing' ->> 'ok', 'true',
    'a destination due two minutes ago is not overdue yet (the next run takes it)');
update public.post_destinations set next_attempt_at = now() - interval '10 minutes' where post_id = :'post';
select matches(public.readiness_report(:'digest') -> 'checks' -> 'publishing' ->> 'problems',
    'a destination is 6\d\d s overdue', 'a destination ten minutes late is named with its lateness');

insert into public.content_jobs (user_id, team_id, brief, chain, steps_total, created_at, updated_at)
values (:'owner', :'team', '{"prompt": "brief"}', '[{"kind": "text"}]', 1,
        now() - interval '6 minutes', now() - interval '6 minutes');
select is((public.readiness_report(:'digest') -> 'checks' -> 'contentJobs' ->> 'oldestQueuedSeconds')::int >= 360, true,
    'a content job queued six minutes ago is reported waiting');

select * from finish();
rollback;
