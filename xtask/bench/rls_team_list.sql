-- RLS cost on a team-scoped list: 1,000,000 content_drafts across 10,000 teams (100 each,
-- interleaved in time), one member per team. Run as superuser `postgres` on a throwaway
-- database with the migrations applied: `psql -v ON_ERROR_STOP=1 -f xtask/bench/rls_team_list.sql`.
-- It seeds (~20 s), then prints one row:
--   rls_ms | rls_filtered_ms | explicit_ms | ratio | filtered_ratio      (target: ratio <= 1.5)
--
-- The queries timed, each with the role and JWT claims PostgREST would set for the request:
--   (a) rls_ms: role `authenticated`, claims {"sub": "00000000-0000-4000-8000-000000000001",
--       "role": "authenticated"} (the only member of team 00000000-0000-4000-9000-000000000001):
--         select id, title, created_at from public.content_drafts order by created_at desc limit 50
--       The select policy adds `team_id = any ((select app_private.user_team_ids())::uuid[])`.
--   (b) rls_filtered_ms: the same member, also filtering on the team as a client listing one
--       team's drafts does (`?team_id=eq.…`): the query of (c) under RLS.
--   (c) explicit_ms: role `service_role` (bypasses RLS), the team given as a filter:
--         select id, title, created_at from public.content_drafts
--         where team_id = '00000000-0000-4000-9000-000000000001' order by created_at desc limit 50
-- All use the (team_id, created_at desc) index. RLS adds a fixed cost per statement (the policy,
-- and one indexed lookup of the caller's teams, ~0.05 ms), not a cost per row; (a) also reads
-- and sorts all of the team's rows, as an array of team ids cannot give index order.
-- Times are server-side means over many runs, each parsed and planned afresh as a one-off
-- request is; a client also pays its round trips, which shrink the ratios.

\set ON_ERROR_STOP 1
begin;
-- Bulk load without row triggers or foreign key checks: the rows below are consistent by
-- construction and set the stamps (created_at spread over time) the triggers would overwrite.
set local session_replication_role = replica;

insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', format('00000000-0000-4000-8000-%s', lpad(to_hex(i), 12, '0'))::uuid,
       'authenticated', 'authenticated', format('bench-%s@bench.local', i), now(), now(), now()
from generate_series(1, 10000) as i;

insert into public.teams (id, name, member_count, created_by)
select format('00000000-0000-4000-9000-%s', lpad(to_hex(i), 12, '0'))::uuid, format('Bench team %s', i), 1,
       format('00000000-0000-4000-8000-%s', lpad(to_hex(i), 12, '0'))::uuid
from generate_series(1, 10000) as i;

insert into public.team_members (team_id, user_id, role)
select format('00000000-0000-4000-9000-%s', lpad(to_hex(i), 12, '0'))::uuid,
       format('00000000-0000-4000-8000-%s', lpad(to_hex(i), 12, '0'))::uuid, 'owner'
from generate_series(1, 10000) as i;

insert into public.content_drafts (team_id, title, platform_contents, created_by, created_at, updated_at)
select format('00000000-0000-4000-9000-%s', lpad(to_hex(i % 10000 + 1), 12, '0'))::uuid,
       format('Draft %s', i),
       jsonb_build_object('x', jsonb_build_object('content', format('Post number %s', i), 'hashtags', '["#bench"]'::jsonb)),
       format('00000000-0000-4000-8000-%s', lpad(to_hex(i % 10000 + 1), 12, '0'))::uuid,
       now() - i * interval '1 second', now() - i * interval '1 second'
from generate_series(1, 1000000) as i;
commit;

-- Vacuumed as well as analyzed: autovacuum on these fresh million rows would otherwise run
-- during the later sections and slow them.
vacuum analyze auth.users, public.teams, public.team_members, public.content_drafts;

-- Mean milliseconds of `query` run as `claims`' role and claims, after a warm-up.
create function pg_temp.mean_ms(query text, claims jsonb, runs integer default 2000)
returns numeric
language plpgsql
as $$
declare
    started timestamptz;
    elapsed interval;
begin
    perform set_config('role', claims ->> 'role', true);
    perform set_config('request.jwt.claims', claims::text, true);
    for i in 1..runs / 10 loop
        execute query;
    end loop;
    started := clock_timestamp();
    for i in 1..runs loop
        execute query;
    end loop;
    elapsed := clock_timestamp() - started;
    perform set_config('role', 'none', true);
    perform set_config('request.jwt.claims', '', true);
    return round((extract(epoch from elapsed) * 1000 / runs)::numeric, 4);
end
$$;

select rls_ms, rls_filtered_ms, explicit_ms, round(rls_ms / explicit_ms, 2) as ratio, round(rls_filtered_ms / explicit_ms, 2) as filtered_ratio
from (
    select
        pg_temp.mean_ms(
            'select id, title, created_at from public.content_drafts order by created_at desc limit 50',
            '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}') as rls_ms,
        pg_temp.mean_ms(
            'select id, title, created_at from public.content_drafts
             where team_id = ''00000000-0000-4000-9000-000000000001'' order by created_at desc limit 50',
            '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}') as rls_filtered_ms,
        pg_temp.mean_ms(
            'select id, title, created_at from public.content_drafts
             where team_id = ''00000000-0000-4000-9000-000000000001'' order by created_at desc limit 50',
            '{"role": "service_role"}') as explicit_ms
) as timings;
