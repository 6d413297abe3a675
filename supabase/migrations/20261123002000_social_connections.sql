-- Social account connections (OAuth 2.0 with X, LinkedIn, Facebook Pages, Instagram, TikTok,
-- Pinterest and YouTube): the pending authorization states and the connected accounts.
--
-- The worker is the only writer. It calls the public wrappers below with the service role key
-- and passes the user id it verified from the caller's token. Tokens are sealed by the worker
-- (AES-256-GCM, associated data = connection id, platform and key version); the database never
-- sees a token in clear and no API role can select the sealed columns. Clients list their
-- team's connections through the `social_accounts` view (or the table's public columns).
--
-- Who may do what: owners and admins connect accounts for their team (start the flow);
-- every member sees the team's connections and may verify them; owners, admins and the member
-- who connected an account may disconnect it.

create type public.social_platform as enum ('x', 'linkedin', 'facebook', 'instagram', 'tiktok', 'pinterest', 'youtube');
create type public.social_connection_status as enum ('active', 'reauth_required');

create table public.social_connections (
    id uuid primary key,
    team_id uuid not null references public.teams (id) on delete cascade,
    platform public.social_platform not null,
    -- The platform's id of the account (user, page, Instagram business account, channel).
    external_account_id text not null check (char_length(external_account_id) between 1 and 200),
    display_name text check (char_length(display_name) <= 300),
    handle text check (char_length(handle) <= 300),
    avatar_url text check (char_length(avatar_url) <= 2000),
    scopes text[] not null default '{}',
    status public.social_connection_status not null default 'active',
    connected_by uuid references auth.users (id) on delete set null,
    -- base64(nonce ‖ ciphertext ‖ tag), written only by the worker; never granted to API roles.
    encrypted_access_token text not null,
    encrypted_refresh_token text,
    token_key_version text not null,
    -- Bumped on every token write: a refresh is claimed against the generation the worker read,
    -- so a token that changed meanwhile is re-read instead of refreshed again.
    token_generation bigint not null default 1,
    access_token_expires_at timestamptz,
    refresh_token_expires_at timestamptz,
    -- The single-flight refresh lease (see claim_social_token_refresh).
    refresh_lease_id uuid,
    refresh_lease_expires_at timestamptz,
    last_refreshed_at timestamptz,
    last_error text check (char_length(last_error) <= 200),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, platform, external_account_id)
);
comment on table public.social_connections is 'Social accounts connected to a team through OAuth; tokens are sealed by the worker and never readable by clients.';
-- The refresh job looks for tokens about to expire.
create index social_connections_expiry_idx on public.social_connections (access_token_expires_at)
    where status = 'active' and encrypted_refresh_token is not null;

create trigger set_updated_at
    before update on public.social_connections
    for each row execute function app_private.set_updated_at();

-- What clients list: everything but the token material.
create view public.social_accounts
with (security_invoker = true)
as
select c.id, c.team_id, c.platform, c.external_account_id, c.display_name, c.handle, c.avatar_url, c.scopes,
       c.status, c.connected_by, c.access_token_expires_at, c.last_refreshed_at, c.last_error, c.created_at,
       c.updated_at
from public.social_connections as c;
comment on view public.social_accounts is 'The team''s connected social accounts, without tokens (RLS of social_connections applies).';

-- A started authorization, waiting for the platform to send the browser back. Only the SHA-256
-- of `state` is stored, so reading this table does not let anyone complete a flow.
create table app_private.oauth_states (
    state_hash text primary key check (state_hash ~ '^[0-9a-f]{64}$'),
    user_id uuid not null references auth.users (id) on delete cascade,
    team_id uuid not null references public.teams (id) on delete cascade,
    platform public.social_platform not null,
    redirect_to text not null check (char_length(redirect_to) <= 2000),
    code_verifier text not null check (char_length(code_verifier) between 43 and 128),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null default now() + interval '10 minutes'
);
create index oauth_states_expires_at_idx on app_private.oauth_states (expires_at);

-- Privileges: clients read their team's connections; every write goes through the worker.
alter table public.social_connections enable row level security;
revoke all on public.social_connections from anon, authenticated;
revoke all on public.social_accounts from anon, authenticated;
grant select (id, team_id, platform, external_account_id, display_name, handle, avatar_url, scopes, status,
    connected_by, access_token_expires_at, last_refreshed_at, last_error, created_at, updated_at)
    on public.social_connections to authenticated;
grant select on public.social_accounts to authenticated;
grant select, insert, update, delete on public.social_connections to service_role;
grant select on public.social_accounts to service_role;

create policy "Members can read their team's social connections"
    on public.social_connections for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));

-- The role of `user_id` in `team_id`, or null for a non-member.
create function app_private.team_role_of(team_id uuid, user_id uuid)
returns public.team_role
language sql
stable
security definer
set search_path = ''
as $$
    select m.role from public.team_members as m
    where m.team_id = team_role_of.team_id and m.user_id = team_role_of.user_id
$$;
revoke execute on function app_private.team_role_of(uuid, uuid) from public;

-- Starts an authorization for `user_id`, who must be an owner or admin of the team. Also
-- forgets states that expired. Returns `{"status": "created" | "forbidden" | "not_team_member"}`.
create function public.create_oauth_state(
    user_id uuid, team_id uuid, platform public.social_platform, state_hash text, redirect_to text,
    code_verifier text
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    role public.team_role := app_private.team_role_of(team_id, user_id);
begin
    if role is null then
        return jsonb_build_object('status', 'not_team_member');
    elsif role not in ('owner', 'admin') then
        return jsonb_build_object('status', 'forbidden');
    end if;
    delete from app_private.oauth_states as s where s.expires_at < now();
    insert into app_private.oauth_states (state_hash, user_id, team_id, platform, redirect_to, code_verifier)
    values (state_hash, user_id, team_id, platform, redirect_to, code_verifier);
    return jsonb_build_object('status', 'created');
end
$$;
revoke execute on function public.create_oauth_state(uuid, uuid, public.social_platform, text, text, text)
    from public, anon, authenticated;
grant execute on function public.create_oauth_state(uuid, uuid, public.social_platform, text, text, text)
    to service_role;

-- Takes the state out (single use, whatever happens next). `invalid` when it is unknown,
-- already used, expired or for another platform: then nothing about it can be trusted, not even
-- where to send the browser. `forbidden` (with its redirect) when its user may no longer
-- connect accounts for the team.
create function public.consume_oauth_state(state_hash text, platform public.social_platform)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    taken app_private.oauth_states;
begin
    delete from app_private.oauth_states as s
    where s.state_hash = consume_oauth_state.state_hash
    returning s.* into taken;
    if taken is null or taken.expires_at < now() or taken.platform <> consume_oauth_state.platform then
        return jsonb_build_object('status', 'invalid');
    end if;
    if coalesce(app_private.team_role_of(taken.team_id, taken.user_id) in ('owner', 'admin'), false) then
        return jsonb_build_object('status', 'valid', 'user_id', taken.user_id, 'team_id', taken.team_id,
            'redirect_to', taken.redirect_to, 'code_verifier', taken.code_verifier);
    end if;
    return jsonb_build_object('status', 'forbidden', 'redirect_to', taken.redirect_to);
end
$$;
revoke execute on function public.consume_oauth_state(text, public.social_platform)
    from public, anon, authenticated;
grant execute on function public.consume_oauth_state(text, public.social_platform) to service_role;

-- The id a connection's tokens must be sealed for: the existing row's, or a new one.
create function public.social_connection_id(team_id uuid, platform public.social_platform, external_account_id text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(
        (select c.id from public.social_connections as c
         where c.team_id = social_connection_id.team_id and c.platform = social_connection_id.platform
           and c.external_account_id = social_connection_id.external_account_id),
        gen_random_uuid())
$$;
revoke execute on function public.social_connection_id(uuid, public.social_platform, text)
    from public, anon, authenticated;
grant execute on function public.social_connection_id(uuid, public.social_platform, text) to service_role;

-- Creates or reconnects (new tokens, active again) a connection. `connection_id` must be the id
-- social_connection_id() gave, which the tokens are sealed for. Lifetimes are in seconds from
-- now (null: does not expire, or unknown), so only the database's clock matters.
create function public.save_social_connection(
    connection_id uuid, team_id uuid, user_id uuid, platform public.social_platform, external_account_id text,
    encrypted_access_token text, token_key_version text, display_name text default null, handle text default null,
    avatar_url text default null, scopes text[] default null, encrypted_refresh_token text default null,
    access_token_expires_in integer default null, refresh_token_expires_in integer default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    saved public.social_connections;
begin
    insert into public.social_connections as c (
        id, team_id, platform, external_account_id, display_name, handle, avatar_url, scopes, connected_by,
        encrypted_access_token, encrypted_refresh_token, token_key_version, access_token_expires_at,
        refresh_token_expires_at)
    values (
        connection_id, team_id, platform, external_account_id, display_name, handle, avatar_url,
        coalesce(scopes, '{}'), user_id, encrypted_access_token, encrypted_refresh_token, token_key_version,
        now() + make_interval(secs => access_token_expires_in), now() + make_interval(secs => refresh_token_expires_in))
    on conflict on constraint social_connections_team_id_platform_external_account_id_key do update set
        display_name = excluded.display_name, handle = excluded.handle, avatar_url = excluded.avatar_url,
        scopes = excluded.scopes, connected_by = excluded.connected_by, status = 'active',
        encrypted_access_token = excluded.encrypted_access_token,
        encrypted_refresh_token = excluded.encrypted_refresh_token,
        token_key_version = excluded.token_key_version, token_generation = c.token_generation + 1,
        access_token_expires_at = excluded.access_token_expires_at,
        refresh_token_expires_at = excluded.refresh_token_expires_at,
        refresh_lease_id = null, refresh_lease_expires_at = null, last_error = null
    where c.id = connection_id
    returning c.* into saved;
    if saved is null then
        raise exception 'the connection changed concurrently' using errcode = '40001';
    end if;
    return jsonb_build_object('id', saved.id, 'team_id', saved.team_id, 'platform', saved.platform,
        'external_account_id', saved.external_account_id, 'display_name', saved.display_name,
        'handle', saved.handle, 'avatar_url', saved.avatar_url, 'scopes', saved.scopes,
        'status', saved.status, 'access_token_expires_at', saved.access_token_expires_at,
        'created_at', saved.created_at, 'updated_at', saved.updated_at);
end
$$;
revoke execute on function public.save_social_connection(uuid, uuid, uuid, public.social_platform, text, text,
    text, text, text, text, text[], text, integer, integer)
    from public, anon, authenticated;
grant execute on function public.save_social_connection(uuid, uuid, uuid, public.social_platform, text, text,
    text, text, text, text, text[], text, integer, integer)
    to service_role;

-- A connection row as the worker reads it: sealed tokens, without the refresh lease's id, with
-- the seconds its access token has left by the database's clock.
create function app_private.social_connection_for_worker(found_row public.social_connections)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select to_jsonb(found_row) - '{refresh_lease_id}'::text[]
        || jsonb_build_object('lease_held', coalesce(found_row.refresh_lease_expires_at > now(), false),
            'access_token_expires_in', floor(extract(epoch from found_row.access_token_expires_at - now())))
$$;
revoke execute on function app_private.social_connection_for_worker(public.social_connections) from public;

-- A connection with its sealed tokens, for the worker. With `user_id`, only if that user may
-- `action` it: `use` (any member of the team) or `remove` (owner, admin, or whoever connected
-- it). Returns `{"status": "ok", "connection": …}`, `not_found` (also for non-members, who must
-- not learn it exists) or `forbidden`.
create function public.get_social_connection(connection_id uuid, user_id uuid default null, action text default 'use')
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    found_row public.social_connections;
    role public.team_role;
begin
    select c.* into found_row from public.social_connections as c where c.id = connection_id;
    if found_row is null then
        return jsonb_build_object('status', 'not_found');
    end if;
    if user_id is not null then
        role := app_private.team_role_of(found_row.team_id, user_id);
        if role is null then
            return jsonb_build_object('status', 'not_found');
        end if;
        if action = 'remove' and role = 'member' and found_row.connected_by is distinct from user_id then
            return jsonb_build_object('status', 'forbidden');
        end if;
    end if;
    return jsonb_build_object('status', 'ok', 'connection', app_private.social_connection_for_worker(found_row));
end
$$;
revoke execute on function public.get_social_connection(uuid, uuid, text) from public, anon, authenticated;
grant execute on function public.get_social_connection(uuid, uuid, text) to service_role;

-- Claims the right to refresh a connection's tokens, for `lease_seconds` (the worker's default,
-- 60, outlasts its refresh call with retries, so a lease never expires under a live refresh):
-- only one worker holds
-- it at a time, and only while the tokens are still the generation it read. The conditional
-- UPDATE takes the row lock, so concurrent claims queue and re-check against the committed row.
-- Returns `{"status": "claimed", "lease_id"}`, `changed` (the tokens were written since: read
-- them again), `busy` (someone else is refreshing: wait and read again) or `reauth_required`.
create function public.claim_social_token_refresh(connection_id uuid, token_generation bigint, lease_seconds integer default 60)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    lease uuid := gen_random_uuid();
    current_row public.social_connections;
begin
    update public.social_connections as c
    set refresh_lease_id = lease, refresh_lease_expires_at = now() + make_interval(secs => lease_seconds)
    where c.id = connection_id and c.status = 'active'
      and c.token_generation = claim_social_token_refresh.token_generation
      and (c.refresh_lease_expires_at is null or c.refresh_lease_expires_at < now());
    if found then
        return jsonb_build_object('status', 'claimed', 'lease_id', lease);
    end if;
    select c.* into current_row from public.social_connections as c where c.id = connection_id;
    if current_row is null then
        return jsonb_build_object('status', 'not_found');
    elsif current_row.status = 'reauth_required' then
        return jsonb_build_object('status', 'reauth_required');
    elsif current_row.token_generation <> claim_social_token_refresh.token_generation then
        return jsonb_build_object('status', 'changed');
    end if;
    return jsonb_build_object('status', 'busy');
end
$$;
revoke execute on function public.claim_social_token_refresh(uuid, bigint, integer)
    from public, anon, authenticated;
grant execute on function public.claim_social_token_refresh(uuid, bigint, integer) to service_role;

-- Ends a refresh lease: with new tokens (stored in the same statement that releases the lease,
-- so the next reader sees them), or with an error (`reauth` marks the connection as needing the
-- user to connect again: the platform refused the refresh token for good). False when the
-- lease is no longer held (it expired and someone else took over).
create function public.finish_social_token_refresh(
    connection_id uuid, lease_id uuid, reauth boolean default false, encrypted_access_token text default null,
    encrypted_refresh_token text default null, token_key_version text default null,
    access_token_expires_in integer default null, refresh_token_expires_in integer default null,
    error text default null
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    if encrypted_access_token is not null then
        update public.social_connections as c
        set encrypted_access_token = finish_social_token_refresh.encrypted_access_token,
            encrypted_refresh_token = finish_social_token_refresh.encrypted_refresh_token,
            token_key_version = finish_social_token_refresh.token_key_version,
            access_token_expires_at = now() + make_interval(secs => access_token_expires_in),
            refresh_token_expires_at = coalesce(now() + make_interval(secs => refresh_token_expires_in),
                                                c.refresh_token_expires_at),
            token_generation = c.token_generation + 1, last_refreshed_at = now(), last_error = null,
            refresh_lease_id = null, refresh_lease_expires_at = null
        where c.id = connection_id and c.refresh_lease_id = finish_social_token_refresh.lease_id;
    else
        update public.social_connections as c
        set status = case when reauth then 'reauth_required'::public.social_connection_status else c.status end,
            last_error = left(error, 200), refresh_lease_id = null, refresh_lease_expires_at = null
        where c.id = connection_id and c.refresh_lease_id = finish_social_token_refresh.lease_id;
    end if;
    return found;
end
$$;
revoke execute on function public.finish_social_token_refresh(uuid, uuid, boolean, text, text, text, integer,
    integer, text)
    from public, anon, authenticated;
grant execute on function public.finish_social_token_refresh(uuid, uuid, boolean, text, text, text, integer,
    integer, text)
    to service_role;

-- Marks a connection whose token the platform refused outright (outside a refresh).
create function public.mark_social_reauth_required(connection_id uuid, token_generation bigint, error text)
returns boolean
language sql
security definer
set search_path = ''
as $$
    with marked as (
        update public.social_connections as c
        set status = 'reauth_required', last_error = left(error, 200)
        where c.id = connection_id and c.token_generation = mark_social_reauth_required.token_generation
        returning true
    )
    select exists (select from marked)
$$;
revoke execute on function public.mark_social_reauth_required(uuid, bigint, text)
    from public, anon, authenticated;
grant execute on function public.mark_social_reauth_required(uuid, bigint, text) to service_role;

-- The ids (a JSON array) of active connections whose access token expires within
-- `within_seconds` and can be refreshed, soonest first, at most `batch_size`, skipping those
-- being refreshed right now.
create function public.social_connections_due(within_seconds integer default 600, batch_size integer default 25)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(due.id order by due.access_token_expires_at), '[]')
    from (
        select c.id, c.access_token_expires_at from public.social_connections as c
        where c.status = 'active' and c.encrypted_refresh_token is not null
          and c.access_token_expires_at < now() + make_interval(secs => within_seconds)
          and (c.refresh_lease_expires_at is null or c.refresh_lease_expires_at < now())
        order by c.access_token_expires_at
        limit batch_size
    ) as due
$$;
revoke execute on function public.social_connections_due(integer, integer) from public, anon, authenticated;
grant execute on function public.social_connections_due(integer, integer) to service_role;

-- The ids (a JSON array) of connections sealed with another key version than `newest_version`.
create function public.social_connections_to_reseal(newest_version text, batch_size integer default 100)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(stale.id), '[]')
    from (
        select c.id from public.social_connections as c
        where c.token_key_version <> newest_version
        order by c.id
        limit batch_size
    ) as stale
$$;
revoke execute on function public.social_connections_to_reseal(text, integer)
    from public, anon, authenticated;
grant execute on function public.social_connections_to_reseal(text, integer) to service_role;

-- Re-sealed tokens (the same tokens under the newest key), written only if nothing changed
-- the tokens since they were read.
create function public.reseal_social_tokens(
    connection_id uuid, token_generation bigint, encrypted_access_token text, token_key_version text,
    encrypted_refresh_token text default null
)
returns boolean
language sql
security definer
set search_path = ''
as $$
    with resealed as (
        update public.social_connections as c
        set encrypted_access_token = reseal_social_tokens.encrypted_access_token,
            encrypted_refresh_token = reseal_social_tokens.encrypted_refresh_token,
            token_key_version = reseal_social_tokens.token_key_version,
            token_generation = c.token_generation + 1
        where c.id = connection_id and c.token_generation = reseal_social_tokens.token_generation
        returning true
    )
    select exists (select from resealed)
$$;
revoke execute on function public.reseal_social_tokens(uuid, bigint, text, text, text)
    from public, anon, authenticated;
grant execute on function public.reseal_social_tokens(uuid, bigint, text, text, text) to service_role;

create function public.delete_social_connection(connection_id uuid)
returns boolean
language sql
security definer
set search_path = ''
as $$
    with deleted as (delete from public.social_connections as c where c.id = connection_id returning true)
    select exists (select from deleted)
$$;
revoke execute on function public.delete_social_connection(uuid) from public, anon, authenticated;
grant execute on function public.delete_social_connection(uuid) to service_role;

-- Every ten minutes pg_cron asks the worker to refresh the tokens that expire soon (the worker
-- checks the cron secret; see app_private.request_worker).
select cron.schedule('social-token-refresh', '*/10 * * * *',
    $$select app_private.request_worker('/v1/cron/tokens/refresh')$$);
