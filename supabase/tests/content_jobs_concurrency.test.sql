-- Two executors claim at the same moment: the second skips the job the first has locked (it
-- does not wait for it, nor take it), and takes the next one instead. And a batch's concurrency
-- holds across executors: with more lanes than the cap claiming at once, the lanes that come
-- after a full claim wait for it on the batch row and then find no room.
--
-- As in team_cap_concurrency: committed fixtures, and a dblink session as the first executor,
-- whose claim stays uncommitted while this session claims.

begin;
select tests.create_user(format('jobs-race-%s@test.local', gen_random_uuid())) as racer \gset
select public.create_content_job(:'racer', '{"prompt": "a"}', '[{"kind": "draft"}]') ->> 'job_id' as job_a \gset
select public.create_content_job(:'racer', '{"prompt": "b"}', '[{"kind": "draft"}]') ->> 'job_id' as job_b \gset
-- A batch of 24 with a concurrency of 2, for 3 lanes.
select tests.create_team(:'racer', 'Lanes race') as team \gset
insert into public.campaigns (team_id, name) values (:'team', 'Lanes') returning id as campaign \gset
select public.create_content_batch(:'racer', :'campaign', 2,
    (select jsonb_agg(jsonb_build_object('brief', jsonb_build_object('prompt', i::text), 'chain', '[{"kind": "draft"}]'::jsonb)
                      order by i)
     from generate_series(1, 24) as i))
    ->> 'batch_id' as batch \gset
-- Only the executors below claim these jobs: the calls that would start them in the worker
-- (pg_net, sent after commit) are withdrawn.
delete from net.http_request_queue
where url like '%/v1/cron/jobs/sweep?%' and (url like '%' || :'job_a' || '%' or url like '%' || :'job_b' || '%'
                                           or url like '%' || :'batch' || '%');
commit;

begin;
select plan(9);
create extension if not exists dblink with schema extensions;
select format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user) as conn \gset
select extensions.dblink_connect('first', :'conn');
select extensions.dblink_exec('first', 'begin');
select is(
    (select claimed from extensions.dblink('first', format(
        'select jsonb_array_length(public.claim_content_jobs(%L, 1, 60, job_id => %L))',
        '00000000-0000-4000-8000-0000000000a1', :'job_a')) as t (claimed int)),
    1, 'the first executor claims job A (not committed yet)');

set local statement_timeout = '3s';
select is(public.claim_content_jobs('00000000-0000-4000-8000-0000000000b2', 1, 60, job_id => :'job_a'), '[]'::jsonb,
    'the second executor skips the locked job at once instead of waiting or taking it');
select is(public.claim_content_jobs('00000000-0000-4000-8000-0000000000b2', 1, 60, job_id => :'job_b') -> 0 ->> 'id',
    :'job_b', 'and takes the next one');
reset statement_timeout;

select extensions.dblink_exec('first', 'commit');
select extensions.dblink_disconnect('first');
select is((select lease_owner::text from public.content_jobs where id = :'job_a'),
    '00000000-0000-4000-8000-0000000000a1', 'job A belongs to the first executor alone');

-- Three lanes, a cap of 2: lane 1 takes two jobs (not committed yet); lanes 2 and 3 claim at
-- the same time, find queued jobs lane 1 has not locked (a claim's scan locks the rows it has
-- read ahead, in batches of 10, so the batch has more), must queue on the batch row, and then
-- find the batch full. Without the batch lock they would each start a job: 4 at once.
-- Polls the lock manager until `waiter` waits for one of `holders` (a second waiter for the
-- same row queues behind the first, which is then its blocker).
create function pg_temp.blocked_by(waiter int, holders int[])
returns boolean
language plpgsql
as $$
begin
    for attempt in 1..100 loop
        if holders && pg_blocking_pids(waiter) then
            return true;
        end if;
        perform pg_sleep(0.05);
    end loop;
    return false;
end
$$;
select extensions.dblink_connect('lane1', :'conn'), extensions.dblink_connect('lane2', :'conn'),
    extensions.dblink_connect('lane3', :'conn');
select pid as lane1_pid from extensions.dblink('lane1', 'select pg_backend_pid()') as t (pid int) \gset
select pid as lane2_pid from extensions.dblink('lane2', 'select pg_backend_pid()') as t (pid int) \gset
select pid as lane3_pid from extensions.dblink('lane3', 'select pg_backend_pid()') as t (pid int) \gset
-- Lane 1 holds its claim open; lanes 2 and 3 claim as the worker does, one statement each.
select extensions.dblink_exec('lane1', 'begin');
select is(
    (select claimed from extensions.dblink('lane1', format(
        'select jsonb_array_length(public.claim_content_jobs(%L, 2, 60, batch_id => %L))',
        '00000000-0000-4000-8000-0000000000c1', :'batch')) as t (claimed int)),
    2, 'lane 1 claims the batch''s 2 slots (not committed yet)');
select extensions.dblink_send_query('lane2', format(
    'select jsonb_array_length(public.claim_content_jobs(%L, 1, 60, batch_id => %L))',
    '00000000-0000-4000-8000-0000000000c2', :'batch'));
select extensions.dblink_send_query('lane3', format(
    'select jsonb_array_length(public.claim_content_jobs(%L, 1, 60, batch_id => %L))',
    '00000000-0000-4000-8000-0000000000c3', :'batch'));
select ok(pg_temp.blocked_by(:lane2_pid, array[:lane1_pid, :lane3_pid])
          and pg_temp.blocked_by(:lane3_pid, array[:lane1_pid, :lane2_pid])
          and (pg_temp.blocked_by(:lane2_pid, array[:lane1_pid]) or pg_temp.blocked_by(:lane3_pid, array[:lane1_pid])),
    'lanes 2 and 3 wait for lane 1 on the batch (one directly, the other queued behind it)');
select extensions.dblink_exec('lane1', 'commit');
select is(array[
        (select claimed from extensions.dblink_get_result('lane2') as t (claimed int)),
        (select claimed from extensions.dblink_get_result('lane3') as t (claimed int))],
    array[0, 0], 'once lane 1 commits, lanes 2 and 3 find the batch full');
-- An async query is done once dblink_get_result returns an empty result.
select from extensions.dblink_get_result('lane2') as t (claimed int);
select from extensions.dblink_get_result('lane3') as t (claimed int);
select extensions.dblink_disconnect('lane1'), extensions.dblink_disconnect('lane2'),
    extensions.dblink_disconnect('lane3');
select is((select count(*)::int from public.content_jobs where batch_id = :'batch' and state = 'running'), 2,
    'after all lanes commit, 2 of the batch''s jobs run: never more than its concurrency');
select is((select count(*)::int from public.content_jobs where batch_id = :'batch' and state = 'queued'), 22,
    'and the other 22 are still queued');

select * from finish();
rollback;

begin;
delete from public.teams where id = :'team';
delete from auth.users where id = :'racer';
commit;
