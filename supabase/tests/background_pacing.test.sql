-- AI pacing (issue #26): interactive calls, background job steps and publishing's moderation
-- each have their own per-user window; refusals leave a window as it was; a step refused by a
-- rate limit makes its job wait (and resume), not fail; batches end `failed` or `partial`, and
-- their failed posts are retried with one call to the worker.
begin;
select plan(32);

select tests.create_user('pace-alice@test.local') as alice \gset
select tests.create_user('pace-bob@test.local') as bob \gset
select tests.create_team(:'alice', 'Pace team') as team \gset
insert into public.campaigns (team_id, name, tone) values (:'team', 'Pace', 'calm') returning id as campaign \gset
insert into public.ai_plans (plan, monthly_credits, requests_per_minute, background_requests_per_minute,
    publishing_checks_per_minute)
values ('pace', 1000, 2, 3, 1);
insert into public.ai_subjects (subject_id, plan) values (:'alice', 'pace'), (:'bob', 'pace');
insert into public.ai_model_prices (provider, model, credits_per_request) values ('openai', 'pace-4', 4);

create temporary table answers (n serial, answer jsonb);
create function pg_temp.reserve(who uuid, pacing text) returns jsonb language sql as $$
    insert into answers (answer)
    select public.reserve_ai_credits(who, 'pace', 'text', 'openai', 1, 1, 0, pacing => pacing)
    returning answer
$$;

-- The interactive window fills; background and publishing reservations go on.
select pg_temp.reserve(:'alice', 'interactive') from generate_series(1, 3);
select is(array(select answer ->> 'status' from answers order by n), array['reserved', 'reserved', 'rate_limited'],
    'two interactive calls a minute on this plan, the third refused');
select is(pg_temp.reserve(:'alice', 'background') ->> 'status', 'reserved',
    'a job step is not refused by a full interactive window');
select is(pg_temp.reserve(:'alice', 'publishing') ->> 'status', 'reserved',
    'nor is the moderation of a post being scheduled');
select is(pg_temp.reserve(:'alice', 'publishing') ->> 'status', 'rate_limited',
    'publishing''s moderation has a window of its own');
select throws_ok(format($$select public.reserve_ai_credits(%L, 'x', 'text', 'openai', 1, 1, 0, pacing => 'urgent')$$,
    :'alice'), '22023', 'unknown pacing urgent', 'an unknown pacing is refused');

-- The window's state comes with the answer, as the rate-limit headers show it.
truncate answers;
select pg_temp.reserve(:'alice', 'background') from generate_series(1, 3);
select is(array(select (answer #>> '{window,remaining}')::int from answers order by n), array[1, 0, 0],
    'each granted call leaves one less in the window, and a refusal shows none left');
select is(array(select answer #>> '{window,limit}' from answers order by n), array['3', '3', '3'],
    'the window''s limit is the plan''s background requests per minute');
select ok((select bool_and((answer #>> '{window,reset}')::int between 1 and 60
                          and (answer #>> '{window,length}')::int = 60
                          and (answer ->> 'status' <> 'rate_limited'
                               or answer ->> 'retry_after' = answer #>> '{window,reset}'))
           from answers), 'the seconds until the window ends, as Retry-After says them');
select is((select count from app_private.rate_windows where subject = :'alice' and action = 'ai_background'), 3,
    'refused calls do not count in the window');

-- Refusals before the window leave it as it was.
insert into public.ai_credit_ledger (subject_id, period, allowance, used)
values (:'bob', app_private.ai_current_period(), 1000, 997);
insert into public.ai_provider_configs (id, user_id, provider, text_model, is_active)
values (gen_random_uuid(), :'bob', 'openai', 'pace-4', true);
select is(public.reserve_ai_credits(:'bob', 'pace', 'text', 'openai', 1, 1, 0) ->> 'status', 'credit_limit_reached',
    'a call over the credits is refused');
select is(public.reserve_ai_credits(:'bob', 'pace', 'text', 'openai', 1, 1, 0, requested_model => 'unpriced')
    ->> 'status', 'model_not_allowed', 'and a model the platform does not price');
select is((select count(*)::int from app_private.rate_windows where subject = :'bob'), 0,
    'neither took a slot of the window');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'bob'), '(997,0)',
    'nor reserved credits');

-- A step refused by a rate limit: its job waits, then resumes at that step.
select '00000000-0000-4000-8000-0000000000a1' as worker \gset
select public.create_content_job(:'alice', '{"prompt": "x"}', '[{"kind": "draft"}, {"kind": "refine"}]')
    ->> 'job_id' as job \gset
select public.claim_content_jobs(:'worker', 1, 60, job_id => :'job');
select public.start_content_job_step(:'job', :'worker', 0, 'draft', '{"prompt": "p"}', 60);
select is(public.defer_content_job(:'job', gen_random_uuid(), 0, 'rate_limited', 30) ->> 'status', 'lease_lost',
    'only the executor holding the job can make it wait');
select is(public.defer_content_job(:'job', :'worker', 0, 'rate_limited', 30) ->> 'status', 'waiting',
    'a step refused by the background window makes its job wait');
select ok((select state = 'queued' and lease_owner is null and wait_reason = 'rate_limited'
                  and run_after between now() + interval '29 seconds' and now() + interval '31 seconds'
           from public.content_jobs where id = :'job'),
    'queued again, without a lease, until the window has ended');
select is((select (status, error_code)::text from public.content_job_steps where job_id = :'job' and step_index = 0),
    '(waiting,rate_limited)', 'its step shows it waits, and why');
select is(public.claim_content_jobs(:'worker', 1, 60, job_id => :'job'), '[]'::jsonb,
    'no executor claims it before its time');
update public.content_jobs set run_after = now() - interval '1 second' where id = :'job';
select is((public.claim_content_jobs(:'worker', 1, 60, job_id => :'job') -> 0 ->> 'current_step')::int, 0,
    'once its time has come, the sweep claims it at the step that waited');
select ok((select run_after is null and wait_reason is null and state = 'running' from public.content_jobs
           where id = :'job'), 'a claimed job no longer waits');

-- The provider's 429: the step's reservation is released, and a provider that keeps refusing
-- fails the job in the end.
select public.start_content_job_step(:'job', :'worker', 0, 'draft', '{"prompt": "p"}', 60);
-- (A new minute: the background window has room again.)
update app_private.rate_windows set window_start = window_start - interval '1 minute' where subject = :'alice';
select public.reserve_ai_credits(:'alice', 'jobs/draft', 'text', 'openai', 1, 1, 0, pacing => 'background')
    ->> 'request_id' as request \gset
select is(public.defer_content_job(:'job', :'worker', 0, 'provider_rate_limited', 2, :'request', 40) ->> 'status',
    'waiting', 'a step the provider refused with 429 waits too');
select is((select (status, error_code)::text from public.ai_requests where id = :'request'),
    '(failed,provider_rate_limited)', 'its reservation is released, uncharged');
update public.content_jobs set provider_waits = 9, run_after = null where id = :'job';
select public.claim_content_jobs(:'worker', 1, 60, job_id => :'job');
select public.start_content_job_step(:'job', :'worker', 0, 'draft', '{"prompt": "p"}', 60);
select is(public.defer_content_job(:'job', :'worker', 0, 'provider_rate_limited', 2) ->> 'status', 'failed',
    'the tenth refusal by the provider fails the job');
select is((select (state, error_code, failed_step)::text from public.content_jobs where id = :'job'),
    '(failed,provider_rate_limited,0)', 'with the reason and the step');
select is(public.retry_content_job(:'alice', :'job') ->> 'status', 'queued', 'a retry queues it again');
select is((select provider_waits from public.content_jobs where id = :'job'), 0,
    'with a fresh count of the provider''s refusals');

-- Batches: all failed is `failed`, some `partial`; a retry queues the failed posts with one call.
delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('http://worker.test', 'worker_url');
select vault.create_secret('cron-secret-test', 'cron_secret');
select public.create_content_batch(:'alice', :'campaign', 2,
    '[{"brief": {"prompt": "a"}, "chain": [{"kind": "draft"}]}, {"brief": {"prompt": "b"}, "chain": [{"kind": "draft"}]}]')
    ->> 'batch_id' as batch \gset
update public.content_jobs set state = 'failed' where batch_id = :'batch';
select is((select (completed, failed, state)::text from public.content_batches where id = :'batch'), '(0,2,failed)',
    'a batch whose posts all failed is failed, not done');
select is(public.retry_content_batch(:'bob', :'batch') ->> 'status', 'not_found',
    'another team''s member cannot retry (or see) the batch');
delete from net.http_request_queue;
select is(public.retry_content_batch(:'alice', :'batch'), '{"status": "queued", "retried": 2}',
    'its creator retries its failed posts');
select is((select array_agg(url) from net.http_request_queue where url like 'http://worker.test/%'),
    array['http://worker.test/v1/cron/jobs/sweep?batch_id=' || :'batch' || '&lanes=2'],
    'one call runs the batch''s lanes, not one per post');
update public.content_jobs set state = 'done' where batch_id = :'batch' and batch_index = 0;
update public.content_jobs set state = 'failed' where batch_id = :'batch' and batch_index = 1;
select is((select (completed, failed, state)::text from public.content_batches where id = :'batch'), '(1,1,partial)',
    'some done and some failed is partial');
select is(public.retry_content_batch(:'alice', :'batch') ->> 'retried', '1', 'a retry takes only the failed posts');

select * from finish();
rollback;
