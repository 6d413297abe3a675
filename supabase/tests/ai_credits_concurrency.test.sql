-- Two workers reserve the last credits of a user at the same moment: exactly one succeeds.
-- As in team_cap_concurrency.test.sql, two dblink sessions act as two workers; fixtures are
-- committed first and deleted at the end.

begin;
select gen_random_uuid() as run \gset
select tests.create_user(format('ai-race-%s@test.local', :'run')) as racer \gset
insert into public.ai_plans (plan, monthly_credits, requests_per_minute)
values (format('race-%s', left(:'run', 8)), 3, 100);
insert into public.ai_subjects (subject_id, plan) values (:'racer', format('race-%s', left(:'run', 8)));
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

-- Each estimate (1,000 output tokens at 1.5 credits per 1k) is 2 of the 3 credits.
select format($$select public.reserve_ai_credits(%L, 'generate-text', 'text', 'openai', 0, 1000, 0) ->> 'status'$$,
    :'racer') as reserve \gset
select extensions.dblink_exec('first', 'begin');
select is((select status from extensions.dblink('first', :'reserve') as t (status text)), 'reserved',
    'the first reservation holds 2 of 3 credits (not committed yet)');
select extensions.dblink_send_query('second', :'reserve');

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
select ok(pg_temp.blocked_by(:second_pid, :first_pid), 'the concurrent reservation waits for the first');

select extensions.dblink_exec('first', 'commit');
select is((select status from extensions.dblink_get_result('second') as t (status text)), 'credit_limit_reached',
    'once the first commits, the second sees the credits are gone');
select from extensions.dblink_get_result('second') as t (status text);
select extensions.dblink_disconnect('first'), extensions.dblink_disconnect('second');

select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'racer'), '(0,2)',
    'only one estimate is reserved');
select * from finish();
rollback;

begin;
delete from auth.users where id = :'racer';
delete from public.ai_credit_ledger where subject_id = :'racer';
delete from public.ai_subjects where subject_id = :'racer';
delete from public.ai_plans where plan = format('race-%s', left(:'run', 8));
commit;
