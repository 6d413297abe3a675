-- Helpers every other test file uses, in the spirit of basejump's supabase_test_helpers.
-- Runs first (files run in name order) and COMMITS so the helpers persist for the files
-- after it; everything is create-or-replace so it can run again on the same database.
begin;
select plan(1);

create schema if not exists tests;
-- Tests switch to the API roles and then call these helpers again (to switch user or back).
grant usage on schema tests to anon, authenticated, service_role;

-- A confirmed email user as GoTrue would store it; returns its id. The profile trigger and
-- anything else on auth.users fire as they would on sign-up.
create or replace function tests.create_user(email text, user_metadata jsonb default '{}')
returns uuid
language sql
set search_path = ''
as $$
    insert into auth.users (
        instance_id, id, aud, role, email, email_confirmed_at,
        raw_app_meta_data, raw_user_meta_data, created_at, updated_at
    )
    values (
        '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
        email, now(), '{"provider": "email", "providers": ["email"]}', user_metadata, now(), now()
    )
    returning id
$$;

-- Back to the connecting superuser with no JWT claims, as at the start of a test.
create or replace function tests.clear_authentication()
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform set_config('role', 'none', true);
    perform set_config('request.jwt.claims', '', true);
end
$$;

-- Act as PostgREST does for a request carrying the JWT of the given user: `authenticated`
-- role and GoTrue's access-token claims, for the rest of the transaction.
create or replace function tests.authenticate_as(user_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    claims jsonb;
begin
    perform tests.clear_authentication();
    select jsonb_build_object(
        'sub', u.id, 'role', 'authenticated', 'aud', 'authenticated',
        'email', u.email, 'phone', coalesce(u.phone, ''),
        'app_metadata', u.raw_app_meta_data, 'user_metadata', u.raw_user_meta_data,
        'is_anonymous', u.is_anonymous, 'aal', 'aal1', 'session_id', gen_random_uuid()
    )
    into claims
    from auth.users as u
    where u.id = user_id;
    if claims is null then
        raise exception 'no auth.users row with id %', user_id;
    end if;
    perform set_config('role', 'authenticated', true);
    perform set_config('request.jwt.claims', claims::text, true);
end
$$;

-- Requests made with the anon key or the service role key.
create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform set_config('role', 'anon', true);
    perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end
$$;

create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform set_config('role', 'service_role', true);
    perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
end
$$;

-- A team owned by `owner`, created through create_team() as the owner would; returns its id.
-- Leaves the session unauthenticated.
create or replace function tests.create_team(owner uuid, name text default 'Test team')
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    team_id uuid;
begin
    perform tests.authenticate_as(owner);
    select (public.create_team(name)).id into team_id;
    perform tests.clear_authentication();
    return team_id;
end
$$;

-- Fixture shortcut (as superuser): make `user_id` a member without an invitation.
create or replace function tests.add_team_member(team_id uuid, user_id uuid, role public.team_role default 'member')
returns void
language sql
set search_path = ''
as $$
    insert into public.team_members (team_id, user_id, role) values (team_id, user_id, role)
$$;

-- How many rows a statement touched (or returned); 0 when it was refused for lack of
-- privilege or by a row level security check, which is how "cannot" looks to a client.
create or replace function tests.rows_affected(query text)
returns integer
language plpgsql
set search_path = ''
as $$
declare
    affected integer;
begin
    execute query;
    get diagnostics affected = row_count;
    return affected;
exception when insufficient_privilege then
    return 0;
end
$$;

-- The access checks every team-scoped table must pass, as pgTAP results: `member` sees the
-- row matched by `row_filter`; `outsider` (not allowed to see it) neither sees it nor inserts
-- a copy, updates or deletes it; anon can do none of that. With `members_write`, `member` can
-- also insert a copy (`copy_overrides` replaces unique values) and update the row, which shows
-- the outsider's statements fail because of who runs them, not because they are malformed.
-- Copies insert only the columns `authenticated` may insert, as a client would.
create or replace function tests.check_team_scoped(
    tbl regclass, row_filter text, member uuid, outsider uuid, update_column text,
    members_write boolean default true, copy_overrides jsonb default '{}'
)
returns setof text
language plpgsql
-- pgTAP's functions call each other unqualified.
set search_path = extensions
as $$
declare
    original jsonb;
    insertable text;
    insert_copy text;
    select_row text := format('select from %s where %s', tbl, row_filter);
    update_row text := format('update %s set %I = %I where %s', tbl, update_column, update_column, row_filter);
    delete_row text := format('delete from %s where %s', tbl, row_filter);
    member_reads integer;
    member_inserts integer;
    member_updates integer;
    outsider_reads integer;
    outsider_inserts integer;
    outsider_updates integer;
    outsider_deletes integer;
    anon_total integer;
begin
    perform tests.clear_authentication();
    execute format('select to_jsonb(t) from %s as t where %s', tbl, row_filter) into original;
    if original is null then
        raise exception 'check_team_scoped: no % row matches %', tbl, row_filter;
    end if;
    select string_agg(quote_ident(a.attname), ', ') into insertable
    from pg_catalog.pg_attribute as a
    where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped and a.attidentity = ''
      and a.attname <> 'id' and has_column_privilege('authenticated', tbl, a.attname, 'insert');
    insert_copy := case
        when insertable is null then format('insert into %s default values', tbl)
        else format('insert into %1$s (%2$s) select %2$s from jsonb_populate_record(null::%1$s, %3$L)',
                    tbl, insertable, original || copy_overrides)
    end;

    perform tests.authenticate_as(member);
    member_reads := tests.rows_affected(select_row);
    if members_write then
        member_inserts := tests.rows_affected(insert_copy);
        member_updates := tests.rows_affected(update_row);
    end if;

    perform tests.authenticate_as(outsider);
    outsider_reads := tests.rows_affected(select_row);
    outsider_inserts := tests.rows_affected(insert_copy);
    outsider_updates := tests.rows_affected(update_row);
    outsider_deletes := tests.rows_affected(delete_row);

    perform tests.authenticate_as_anon();
    anon_total := tests.rows_affected(select_row) + tests.rows_affected(insert_copy)
        + tests.rows_affected(update_row) + tests.rows_affected(delete_row);
    perform tests.clear_authentication();

    return next is(member_reads, 1, format('%s: a member sees their team''s row', tbl));
    if members_write then
        return next is(array[member_inserts, member_updates], array[1, 1],
            format('%s: a member can insert and update rows', tbl));
    end if;
    return next is(outsider_reads, 0, format('%s: an outsider sees nothing', tbl));
    return next is(outsider_inserts, 0, format('%s: an outsider cannot insert', tbl));
    return next is(outsider_updates, 0, format('%s: an outsider cannot update', tbl));
    return next is(outsider_deletes, 0, format('%s: an outsider cannot delete', tbl));
    return next is(anon_total, 0, format('%s: anon can neither read nor write', tbl));
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select has_function('tests', 'authenticate_as', array['uuid'], 'test helpers are installed');

select * from finish();
commit;
