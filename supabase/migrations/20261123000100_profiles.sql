-- Profiles: one row per auth user, created when the user signs up. A user reads and edits
-- only their own row through the Data API; nothing else is exposed. Also the private schema
-- and privilege defaults later migrations build on, and the health check behind /readyz.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

-- Internals (trigger functions, security definer helpers) live here: the schema is not in
-- [api].schemas and the API roles get no USAGE on it, so nothing in it is reachable.
create schema app_private;

-- Supabase grants EXECUTE on every new function in public to anon and authenticated. Undo
-- that so a function is callable only by the roles it is granted to. (PUBLIC's EXECUTE
-- comes from a global default a per-schema revoke cannot remove: revoke it per function.)
alter default privileges in schema public revoke execute on functions from anon, authenticated;

-- Generic: keep updated_at current on every update, whatever the client sends.
create function app_private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

create table public.profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    display_name text
        check (display_name = btrim(display_name) and char_length(display_name) between 1 and 80),
    avatar_url text
        check (avatar_url ~ '^https?://' and char_length(avatar_url) <= 2048),
    -- An IANA name; validated by trigger because the list lives in the server's tz database.
    timezone text not null default 'UTC',
    preferences jsonb not null default '{}'
        check (jsonb_typeof(preferences) = 'object' and octet_length(preferences::text) <= 16384),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.profiles is 'Public profile of each user; created automatically on sign-up.';

create function app_private.validate_profile_timezone()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if not exists (select from pg_catalog.pg_timezone_names where name = new.timezone) then
        raise exception 'unknown time zone "%"', new.timezone
            using errcode = 'check_violation', hint = 'Use an IANA time zone name such as Europe/Paris.';
    end if;
    return new;
end
$$;

create trigger validate_timezone
    before insert or update of timezone on public.profiles
    for each row execute function app_private.validate_profile_timezone();

create trigger set_updated_at
    before update on public.profiles
    for each row execute function app_private.set_updated_at();

-- Security definer because Supabase Auth inserts users as supabase_auth_admin, which has no
-- rights on public tables. The display name comes from sign-up metadata, else the email's
-- local part, trimmed to fit the column's check.
create function app_private.create_profile_for_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    derived_name text := coalesce(
        nullif(btrim(new.raw_user_meta_data ->> 'display_name'), ''),
        nullif(btrim(new.raw_user_meta_data ->> 'full_name'), ''),
        nullif(split_part(new.email, '@', 1), '')
    );
begin
    insert into public.profiles (id, display_name)
    values (new.id, btrim(left(derived_name, 80)));
    return new;
end
$$;

create trigger create_profile_after_insert
    after insert on auth.users
    for each row execute function app_private.create_profile_for_new_user();

-- Clients may read the whole row but change only these columns (never id or timestamps),
-- and may neither insert (the trigger does) nor delete (deleting the auth user cascades).
-- Explicit grants also keep this right on projects created without default API grants.
alter table public.profiles enable row level security;
revoke all on public.profiles from anon, authenticated;
grant select, update (display_name, avatar_url, timezone, preferences) on public.profiles to authenticated;
grant select, insert, update, delete on public.profiles to service_role;

-- `(select auth.uid())` is evaluated once per query instead of once per row.
create policy "Users can read their own profile"
    on public.profiles for select to authenticated
    using (id = (select auth.uid()));

create policy "Users can update their own profile"
    on public.profiles for update to authenticated
    using (id = (select auth.uid()))
    with check (id = (select auth.uid()));

-- Readiness probe for the worker's /readyz (POST /rest/v1/rpc/health_check with the
-- service role key): proves PostgREST, the key and the database all answer.
create function public.health_check()
returns boolean
language sql
stable
set search_path = ''
as $$
    select true
$$;
comment on function public.health_check() is 'Readiness probe; callable by service_role only.';
revoke execute on function public.health_check() from public, anon, authenticated;
grant execute on function public.health_check() to service_role;
