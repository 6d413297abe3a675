-- Content jobs start through pg_net when queued: one call per job, or per batch with its
-- concurrency as lanes; replays, claims and steps call nothing; a retry calls again.
begin;
select plan(8);

select tests.create_user('dispatch-alice@test.local') as alice \gset
select tests.create_team(:'alice', 'Dispatch team') as team \gset
insert into public.campaigns (team_id, name, tone) values (:'team', 'Autumn', 'calm') returning id as campaign \gset

delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('http://worker.test', 'worker_url');
select vault.create_secret('cron-secret-test', 'cron_secret');
create temporary view sweep_calls as
    select url, headers from net.http_request_queue where url like 'http://worker.test/v1/cron/jobs/sweep%';

select ok(not has_function_privilege('authenticated', 'app_private.request_new_content_jobs()', 'execute')
    and not has_function_privilege('authenticated', 'app_private.request_requeued_content_job()', 'execute')
    and not has_function_privilege('authenticated', 'app_private.content_job_run_path(uuid,uuid)', 'execute'),
    'clients cannot call the dispatch helpers');

select public.create_content_job(:'alice', '{"prompt": "x"}', '[{"kind": "draft"}]', idempotency_key => 'k-1',
    request_hash => 'h-1') ->> 'job_id' as job \gset
select is((select array_agg(url) from sweep_calls), array['http://worker.test/v1/cron/jobs/sweep?job_id=' || :'job'],
    'a new job asks the worker to run it');
select is((select headers ->> 'Authorization' from sweep_calls), 'Bearer cron-secret-test',
    'with the cron secret');

select public.create_content_job(:'alice', '{"prompt": "x"}', '[{"kind": "draft"}]', idempotency_key => 'k-1',
    request_hash => 'h-1');
select is((select count(*)::int from sweep_calls), 1, 'a replay of the same request calls nothing');

delete from net.http_request_queue;
select public.create_content_batch(:'alice', :'campaign', 2,
    '[{"brief": {"prompt": "a"}, "chain": [{"kind": "draft"}]}, {"brief": {"prompt": "b"}, "chain": [{"kind": "draft"}]},
      {"brief": {"prompt": "c"}, "chain": [{"kind": "draft"}]}]') ->> 'batch_id' as batch \gset
select is((select array_agg(url) from sweep_calls),
    array['http://worker.test/v1/cron/jobs/sweep?batch_id=' || :'batch' || '&lanes=2'],
    'a batch makes one call, with its concurrency as lanes');

delete from net.http_request_queue;
select public.claim_content_jobs(gen_random_uuid(), 1, 60, job_id => :'job');
select public.start_content_job_step(:'job', (select lease_owner from public.content_jobs where id = :'job'), 0,
    'draft', '{"prompt": "p"}', 60);
select is((select count(*)::int from sweep_calls), 0, 'claims and steps call nothing');

update public.content_jobs set state = 'failed', lease_owner = null, lease_expires_at = null where id = :'job';
select is(public.retry_content_job(:'alice', :'job') ->> 'status', 'queued', 'the failed job is retried');
select is((select array_agg(url) from sweep_calls), array['http://worker.test/v1/cron/jobs/sweep?job_id=' || :'job'],
    'and its retry asks the worker to run it again');

select * from finish();
rollback;
