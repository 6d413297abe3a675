-- Two invitees accept at the same moment for the last free seat of a team: exactly one joins.
--
-- A race needs two real sessions, and pgTAP runs in one, inside a transaction no other
-- session can see. So the fixtures are committed first (with unique emails, and deleted at the
-- end), and two dblink sessions act as two clients: the first accepts inside an open
-- transaction, the second's accept is sent asynchronously and must queue behind the first on
-- the team row; once the first commits, the second must fail with "team is full". Without the
-- seat lock the second would not wait and both would join, failing the tests below.
-- dblink connects back as the connecting superuser over the same host and port (trust auth
-- locally; `cargo xtask test` and pg_prove connect that way).

-- Fixtures: a team with a cap of 2 and its owner (one seat left), and two invitations.
begin;
select gen_random_uuid() as run \gset
select tests.create_user(format('cap-owner-%s@test.local', :'run')) as owner \gset
select tests.create_user(format('cap-first-%s@test.local', :'run')) as first \gset
select tests.create_user(format('cap-second-%s@test.local', :'run')) as second \gset
select tests.create_team(:'owner', 'Cap race') as team \gset
update public.teams set member_cap = 2 where id = :'team';
select tests.authenticate_as(:'owner');
select token as first_token from public.create_team_invitation(:'team', format('cap-first-%s@test.local', :'run')) \gset
select token as second_token from public.create_team_invitation(:'team', format('cap-second-%s@test.local', :'run')) \gset
select tests.clear_authentication();
commit;

begin;
select plan(5);
create extension if not exists dblink with schema extensions;

select format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user) as conn \gset
select extensions.dblink_connect('first', :'conn'), extensions.dblink_connect('second', :'conn');
select pid as first_pid from extensions.dblink('first', 'select pg_backend_pid()') as t (pid int) \gset
select pid as second_pid from extensions.dblink('second', 'select pg_backend_pid()') as t (pid int) \gset

-- Each client: a transaction acting as its signed-in user, as PostgREST runs a request.
select extensions.dblink_exec('first', 'begin'), extensions.dblink_exec('second', 'begin');
select * from extensions.dblink('first', format('select tests.authenticate_as(%L)', :'first')) as t (done text);
select * from extensions.dblink('second', format('select tests.authenticate_as(%L)', :'second')) as t (done text);

select is(
    (select team from extensions.dblink('first', format('select public.accept_team_invitation(%L)', :'first_token'))
        as t (team uuid)),
    :'team'::uuid, 'the first accept takes the last seat (not committed yet)');
select extensions.dblink_send_query('second', format('select public.accept_team_invitation(%L)', :'second_token'));

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
select ok(pg_temp.blocked_by(:second_pid, :first_pid), 'the concurrent second accept waits for the first');

select extensions.dblink_exec('first', 'commit');
select is(
    (select count(*)::int from extensions.dblink_get_result('second', false) as t (team uuid)), 0,
    'once the first commits, the second accept returns no team');
select matches(extensions.dblink_error_message('second'), 'team is full \(at most 2 members\)',
    'the second accept fails because the team is full');
-- An async query is done once dblink_get_result returns an empty result.
select from extensions.dblink_get_result('second', false) as t (team uuid);
-- Commit whatever the second client did (a failed transaction just rolls back), so the last
-- test sees the committed outcome of both.
select extensions.dblink_exec('second', 'commit');
select extensions.dblink_disconnect('first'), extensions.dblink_disconnect('second');

select is(
    (select (t.member_count, (select array_agg(m.user_id order by m.user_id) from public.team_members as m
                              where m.team_id = t.id))::text
     from public.teams as t where t.id = :'team'),
    (select format('(2,"{%s}")', string_agg(u::text, ',' order by u))
     from unnest(array[:'owner', :'first']::uuid[]) as u),
    'after both commit, the team has exactly its cap: the owner and the first invitee');

select * from finish();
rollback;

-- Remove the committed fixtures (the team cascades to members, invitations and audit log).
begin;
delete from public.teams where id = :'team';
delete from auth.users where id in (:'owner', :'first', :'second');
commit;
