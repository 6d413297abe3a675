-- Posts on time (#26): each minute's run looks ahead, and the worker is told at which seconds to
-- wake up for what falls due before the next run.
begin;
select plan(13);

select tests.create_user('on-time@test.local') as owner \gset
select tests.create_team(:'owner', 'On time') as team \gset
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token, token_key_version)
values (gen_random_uuid(), :'team', 'facebook', 'page-1', 'sealed', 'v1')
returning id as connection \gset

delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('http://worker.test', 'worker_url');
select vault.create_secret('cron-secret-test', 'cron_secret');
create temporary view publishing_calls as
    select url from net.http_request_queue where url like 'http://worker.test/v1/cron/publish%';

-- Scheduled destinations, one post each, due `delays` seconds from now (a fraction past each
-- second, as real times are).
create function pg_temp.schedule_in(delays numeric[]) returns void language sql as $$
    with posts as (
        insert into public.scheduled_posts (team_id, body, created_by)
        select current_setting('on_time.team')::uuid, 'due in ' || delay, current_setting('on_time.owner')::uuid
        from unnest(delays) as delay
        returning id, body)
    insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at)
    select posts.id, current_setting('on_time.team')::uuid, current_setting('on_time.connection')::uuid, 'scheduled',
           now() + make_interval(secs => split_part(posts.body, ' ', 3)::numeric)
    from posts
$$;
select set_config('on_time.team', :'team', true) as team_setting, set_config('on_time.owner', :'owner', true) as owner_setting,
       set_config('on_time.connection', :'connection', true) as connection_setting \gset

select is(public.publishing_wakeups(35), '[]', 'nothing scheduled: no wake-up');
select is(app_private.request_publishing(), null, 'and the minute''s run does not call the worker');

select pg_temp.schedule_in(array[95.5, 3600]);
select is(public.publishing_wakeups(35), '[]', 'nothing due before the next run: no wake-up');
select is(app_private.request_publishing(), null, 'nor a call');

select pg_temp.schedule_in(array[16.2, 16.7, 45.1, 69.4]);
select is(public.publishing_wakeups(35), '[17, 46, 70]',
    'one wake-up per distinct second due within the look-ahead, at or after each due time');
select isnt(app_private.request_publishing(), null, 'the minute''s run calls the worker for them');
select is((select array_agg(url) from publishing_calls), array['http://worker.test/v1/cron/publish'],
    'one call: the worker sends the wake-ups itself');

-- A busy minute: more distinct seconds than the cap share wider buckets.
select pg_temp.schedule_in(array(select n + 0.5 from generate_series(1, 60) as n));
select ok(jsonb_array_length(public.publishing_wakeups(35)) <= 35, 'at most the cap of wake-ups in a busy minute (61 distinct seconds)');
select is(public.publishing_wakeups(35) -> 0, '2'::jsonb, 'in 2-second buckets, each at the end of its bucket');

-- A post submitted after the minute's run looked ahead (scheduled, approved or retried for a few
-- seconds from now) asks for the sweep at once, which sends its wake-up; due now, the worker
-- publishes it alone; due after the next run, nothing is asked.
delete from net.http_request_queue;
create function pg_temp.post_due_in(seconds numeric) returns uuid language sql as $$
    with post as (
        insert into public.scheduled_posts (team_id, body, created_by)
        values (current_setting('on_time.team')::uuid, 'submitted, due in ' || seconds, current_setting('on_time.owner')::uuid)
        returning id)
    insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at)
    select post.id, current_setting('on_time.team')::uuid, current_setting('on_time.connection')::uuid, 'scheduled',
           now() + make_interval(secs => seconds)
    from post
    returning post_id
$$;
select pg_temp.post_due_in(30) as soon \gset
select isnt(app_private.request_post_publishing(:'soon'), null, 'a post due in 30 s asks for a call');
select is((select array_agg(url) from publishing_calls), array['http://worker.test/v1/cron/publish'],
    'the sweep, which sends the wake-ups for what falls due before the next run');
select pg_temp.post_due_in(0) as now_due \gset
select app_private.request_post_publishing(:'now_due') as now_call \gset
select is(
    (select url from net.http_request_queue where id = :'now_call'),
    'http://worker.test/v1/cron/publish?post_id=' || :'now_due',
    'a post due now is published alone, at once');
select pg_temp.post_due_in(95) as later \gset
select is(app_private.request_post_publishing(:'later'), null, 'a post due after the next run waits for that run');

select * from finish();
rollback;
