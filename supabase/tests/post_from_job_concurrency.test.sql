-- Two calls of post_from_job for one job at the same moment make one post: the second waits on
-- the first's `job:` key and, once the first commits, answers the first's draft. Without the
-- `on conflict` wait the second would fail with a duplicate key (or, without the unique key,
-- make a second post).
--
-- As in team_cap_concurrency: committed fixtures, and two dblink sessions as the two calls.

begin;
select gen_random_uuid() as run \gset
select tests.create_user(format('job-race-%s@test.local', :'run')) as owner \gset
select tests.create_team(:'owner', 'Job post race') as team \gset
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', format('job-race-%s', :'run'), 'sealed', 'v1') returning id as connection \gset
insert into public.content_jobs (user_id, team_id, brief, chain, steps_total, state, result)
values (:'owner', :'team', '{}', '[]', 1, 'done', '{"text": "Race"}') returning id as job \gset
commit;

begin;
select plan(4);
create extension if not exists dblink with schema extensions;
select format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user) as conn \gset
select extensions.dblink_connect('first', :'conn'), extensions.dblink_connect('second', :'conn');
select pid as first_pid from extensions.dblink('first', 'select pg_backend_pid()') as t (pid int) \gset
select pid as second_pid from extensions.dblink('second', 'select pg_backend_pid()') as t (pid int) \gset
select jsonb_build_array(jsonb_build_object('connectionId', :'connection')) as destinations \gset
select format('select public.post_from_job(%L, %L, %L)', :'owner', :'job', :'destinations') as call \gset

select extensions.dblink_exec('first', 'begin');
select made as first_made from extensions.dblink('first', :'call') as t (made jsonb) \gset
select is(:'first_made'::jsonb ->> 'status', 'draft', 'the first call makes the post (not committed yet)');
select extensions.dblink_send_query('second', :'call');

-- Polls the lock manager (pg_blocking_pids is live, unlike pg_stat_activity in a transaction).
create function pg_temp.blocked_by(waiter int, holder int)
returns boolean
language plpgsql
as $$
begin
    for attempt in 1..100 loop
        if holder = any (pg_blocking_pids(waiter)) then
            return true;
        end if;
        perform pg_sleep(0.05);
    end loop;
    return false;
end
$$;
select ok(pg_temp.blocked_by(:second_pid, :first_pid), 'the concurrent second call waits for the first');

select extensions.dblink_exec('first', 'commit');
select is((select made from extensions.dblink_get_result('second') as t (made jsonb)), :'first_made'::jsonb,
    'then answers the first call''s draft');
-- An async query is done once dblink_get_result returns an empty result.
select from extensions.dblink_get_result('second', false) as t (made jsonb);
select extensions.dblink_disconnect('first'), extensions.dblink_disconnect('second');

select results_eq(
    format($$select count(distinct p.id), count(d.id) from public.scheduled_posts as p
             join public.post_destinations as d on d.post_id = p.id where p.client_post_id = %L$$, 'job:' || :'job'),
    $$values (1::bigint, 1::bigint)$$,
    'one post with one destination');

select * from finish();
rollback;

-- Remove the committed fixtures (the team cascades to its connections, jobs and posts).
begin;
delete from public.teams where id = :'team';
delete from auth.users where id = :'owner';
commit;
