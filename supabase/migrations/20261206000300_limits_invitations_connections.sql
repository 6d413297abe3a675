-- Security hardening (issue #17): windowed rate limits for the actions that cost e-mail, queue
-- work or reach a platform; stale AI reservations expired within minutes; chat attachments
-- bound to their uploader; connections deletable after they were used; OAuth flows bound to
-- the client that started them.

-- ---------------------------------------------------------------------------------------------
-- Rate limits (the mechanism is in 20261206000050_rate_windows.sql).
-- For the worker, where no SQL function of its own comes first (connection verification).
create function public.take_rate_limit(subject uuid, action text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform app_private.take_rate_limit(subject, action);
    return true;
end
$$;
revoke execute on function public.take_rate_limit(uuid, text) from public, anon, authenticated;
grant execute on function public.take_rate_limit(uuid, text) to service_role;

-- Counts the row's action against its subject: `tg_argv[0]` names the action, the columns named
-- after it the subject (the first one that is set). One trigger function for every row-counted
-- action; refused rows never reach the table.
create function app_private.take_rate_limit_for_row()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    row_values jsonb := to_jsonb(new);
    subject uuid;
begin
    for i in 1 .. tg_nargs - 1 loop
        subject := coalesce(subject, (row_values ->> tg_argv[i])::uuid);
    end loop;
    perform app_private.take_rate_limit(subject, tg_argv[0]);
    return new;
end
$$;
revoke execute on function app_private.take_rate_limit_for_row() from public;

-- Content jobs and batches, counted when they are really created (not for an idempotent replay).
create trigger limit_content_job
    after insert on public.content_jobs
    for each row when (new.batch_id is null)
    execute function app_private.take_rate_limit_for_row('content_job', 'user_id');
create trigger limit_content_batch
    after insert on public.content_batches
    for each row execute function app_private.take_rate_limit_for_row('content_batch', 'created_by', 'team_id');

-- Scheduling or publishing a post (submit_post is the only writer of scheduled_at), per team.
create trigger limit_post_submit
    before update of scheduled_at on public.scheduled_posts
    for each row when (new.scheduled_at is not null)
    execute function app_private.take_rate_limit_for_row('post_submit', 'team_id');

-- Invitations: counted per inviter and per team once the caller may invite.
create or replace function public.create_team_invitation(
    team_id uuid, email text, role public.team_role default 'member', valid_for interval default '7 days'
)
returns table (invitation_id uuid, token text)
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not (team_id = any (app_private.user_team_ids('{owner,admin}'))) then
        raise exception 'only the team''s owner or an admin can invite' using errcode = '42501';
    end if;
    if role = 'owner' then
        raise exception 'invite as admin or member, then transfer ownership' using errcode = '22023';
    end if;
    if valid_for not between interval '1 hour' and interval '30 days' then
        raise exception 'an invitation must be valid for between 1 hour and 30 days' using errcode = '22023';
    end if;
    perform app_private.take_rate_limit((select auth.uid()), 'invitation');
    perform app_private.take_rate_limit(team_id, 'team_invitation');
    token := encode(extensions.gen_random_bytes(32), 'hex');
    insert into public.team_invitations (team_id, email, role, token_hash, invited_by, expires_at)
    values (team_id, lower(btrim(email)), role, app_private.hash_invitation_token(token),
            (select auth.uid()), now() + valid_for)
    returning id into invitation_id;
    perform app_private.log_team_event(team_id, 'invitation.created', null,
        jsonb_build_object('invitation_id', invitation_id, 'email', lower(btrim(email)), 'role', role));
    return next;
end
$$;
revoke execute on function public.create_team_invitation(uuid, text, public.team_role, interval) from public, anon;
grant execute on function public.create_team_invitation(uuid, text, public.team_role, interval)
    to authenticated, service_role;

-- An invitee who already has an account learns of invitations in the app (the inviter is told
-- nothing that depends on whether the address has an account): the pending, unexpired
-- invitations to the caller's verified address. They respond with the invitation's id.
create function public.my_team_invitations()
returns table (invitation_id uuid, team_id uuid, team_name text, invited_by_name text, role public.team_role,
               expires_at timestamptz)
language sql
stable
security definer
set search_path = ''
as $$
    select i.id, i.team_id, t.name, p.display_name, i.role, i.expires_at
    from auth.users as u
    join public.team_invitations as i on i.email = lower(u.email)
    join public.teams as t on t.id = i.team_id
    left join public.profiles as p on p.id = i.invited_by
    where u.id = (select auth.uid()) and u.email_confirmed_at is not null
      and i.status = 'pending' and i.expires_at > now()
    order by i.created_at desc
$$;
comment on function public.my_team_invitations() is
    'Signed-in user with a verified email: the pending invitations sent to that address.';

-- One implementation of responding, for the token RPCs and the id RPC alike: the invitation
-- with this token hash must be pending, unexpired and sent to the caller's verified address.
create function app_private.lock_pending_invitation_by_hash(token_hash bytea)
returns public.team_invitations
language plpgsql
set search_path = ''
as $$
declare
    invitation public.team_invitations;
begin
    select * into invitation
    from public.team_invitations as i
    where i.token_hash = lock_pending_invitation_by_hash.token_hash
    for update;
    if not found then
        raise exception 'invitation not found' using errcode = 'P0002';
    end if;
    if invitation.status <> 'pending' then
        raise exception 'this invitation has already been %', invitation.status using errcode = 'P0001';
    end if;
    if invitation.expires_at <= now() then
        raise exception 'this invitation has expired' using errcode = 'P0001',
            hint = 'Ask the team for a new invitation.';
    end if;
    return invitation;
end
$$;

create or replace function app_private.lock_pending_invitation(token text)
returns public.team_invitations
language sql
set search_path = ''
as $$
    select app_private.lock_pending_invitation_by_hash(app_private.hash_invitation_token(token))
$$;

create function app_private.respond_to_invitation(token_hash bytea, accept boolean)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    invitation public.team_invitations := app_private.lock_pending_invitation_by_hash(token_hash);
    invitee uuid := app_private.require_invitee(invitation.email);
begin
    if not accept then
        update public.team_invitations as i
        set status = 'declined', responded_at = now(), responded_by = invitee
        where i.id = invitation.id;
        perform app_private.log_team_event(invitation.team_id, 'invitation.declined', invitee,
            jsonb_build_object('invitation_id', invitation.id));
        return invitation.team_id;
    end if;
    if exists (
        select from public.team_members as m where m.team_id = invitation.team_id and m.user_id = invitee
    ) then
        raise exception 'you are already a member of this team' using errcode = '23505';
    end if;
    insert into public.team_members (team_id, user_id, role) values (invitation.team_id, invitee, invitation.role);
    update public.team_invitations as i
    set status = 'accepted', responded_at = now(), responded_by = invitee
    where i.id = invitation.id;
    perform app_private.log_team_event(invitation.team_id, 'invitation.accepted', invitee,
        jsonb_build_object('invitation_id', invitation.id));
    perform app_private.log_team_event(invitation.team_id, 'member.added', invitee,
        jsonb_build_object('role', invitation.role, 'invitation_id', invitation.id));
    return invitation.team_id;
end
$$;

create or replace function public.accept_team_invitation(token text)
returns uuid
language sql
security definer
set search_path = ''
as $$
    select app_private.respond_to_invitation(app_private.hash_invitation_token(token), true)
$$;

create or replace function public.decline_team_invitation(token text)
returns void
language sql
security definer
set search_path = ''
as $$
    select from app_private.respond_to_invitation(app_private.hash_invitation_token(token), false)
$$;

-- Accepts or declines one of my_team_invitations() by its id (returns the team id).
create function public.respond_to_team_invitation(invitation_id uuid, accept boolean)
returns uuid
language sql
security definer
set search_path = ''
as $$
    select app_private.respond_to_invitation(
        coalesce((select i.token_hash from public.team_invitations as i where i.id = invitation_id), ''::bytea),
        accept)
$$;

revoke execute on function
    app_private.lock_pending_invitation_by_hash(bytea),
    app_private.lock_pending_invitation(text),
    app_private.respond_to_invitation(bytea, boolean)
from public;
revoke execute on function public.accept_team_invitation(text), public.decline_team_invitation(text) from public, anon;
grant execute on function public.accept_team_invitation(text), public.decline_team_invitation(text)
    to authenticated, service_role;
revoke execute on function public.my_team_invitations(), public.respond_to_team_invitation(uuid, boolean)
    from public, anon;
grant execute on function public.my_team_invitations(), public.respond_to_team_invitation(uuid, boolean)
    to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- AI reservations a worker never settled (it crashed or was evicted) are freed within minutes,
-- not at the monthly reset: pg_cron runs the expiry every five minutes, in the database.
create function app_private.expire_stale_ai_reservations(stale_after interval default interval '15 minutes')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    expired integer;
begin
    with stale as (
        update public.ai_requests as r
        set status = 'expired', credits = 0, settled_at = now()
        where r.status = 'reserved' and r.created_at < now() - stale_after
        returning r.subject_id, r.period, r.reserved_credits
    ), freed as (
        select s.subject_id, s.period, sum(s.reserved_credits) as credits, count(*) as requests
        from stale as s group by s.subject_id, s.period
    ), ledger as (
        update public.ai_credit_ledger as l
        set reserved = l.reserved - f.credits, updated_at = now()
        from freed as f
        where l.subject_id = f.subject_id and l.period = f.period
    )
    select coalesce(sum(f.requests), 0) into expired from freed as f;
    return expired;
end
$$;
revoke execute on function app_private.expire_stale_ai_reservations(interval) from public;

-- The monthly job keeps its answer; its expiry is the same function's.
create or replace function public.reset_ai_credits()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    expired integer := app_private.expire_stale_ai_reservations();
    first_run boolean;
begin
    insert into app_private.ai_credit_resets (period) values (app_private.ai_current_period())
    on conflict do nothing;
    first_run := found;
    return jsonb_build_object(
        'period', app_private.ai_current_period(), 'already_reset', not first_run, 'expired_reservations', expired);
end
$$;

select cron.schedule('ai-reservations-expire', '*/5 * * * *',
    $$select app_private.expire_stale_ai_reservations()$$);

-- ---------------------------------------------------------------------------------------------
-- A chat attachment must be an object its sender uploaded: otherwise a member could name a
-- teammate's file in a message, delete the message, and have the file removed with it.
create function app_private.check_chat_attachment_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.attachment_path is not null and not exists (
        select from storage.objects as o
        where o.bucket_id = 'chat' and o.name = new.attachment_path
          and (o.owner = new.sender_id or o.owner_id = new.sender_id::text)
    ) then
        raise exception 'attach a file you uploaded to this channel' using errcode = '42501';
    end if;
    return null;
end
$$;
revoke execute on function app_private.check_chat_attachment_owner() from public;
-- After the row's own checks, so a path outside the channel's folder is reported as such.
create trigger check_attachment_owner
    after insert or update of attachment_path, sender_id on public.chat_messages
    for each row execute function app_private.check_chat_attachment_owner();

-- ---------------------------------------------------------------------------------------------
-- Deleting a connection that posts went to: the destinations keep their history (platform and
-- account name) and lose the reference, instead of the delete failing (it used to fail, after
-- the worker had already revoked the platform's grant). Team deletion cascades the same way.
alter table public.post_destinations
    add column platform public.social_platform,
    add column account_name text check (char_length(account_name) <= 300);
alter table public.post_destinations alter column connection_id drop not null;
alter table public.post_destinations drop constraint post_destinations_connection_id_fkey;
alter table public.post_destinations add constraint post_destinations_connection_id_fkey
    foreign key (connection_id) references public.social_connections (id) on delete set null;
update public.post_destinations as d
set platform = c.platform, account_name = coalesce(c.handle, c.display_name, c.external_account_id)
from public.social_connections as c
where c.id = d.connection_id;

-- The connection reference may only be cleared (by the foreign key), never newly point nowhere;
-- a destination without its connection cannot be scheduled again.
create or replace function app_private.check_destination_connection()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.connection_id is null then
        if tg_op = 'UPDATE' and (new.status = old.status
                                 or new.status not in ('pending_approval', 'scheduled', 'publishing')) then
            return new;
        end if;
        raise exception 'the connection of this destination was deleted' using errcode = '23503';
    end if;
    if tg_op = 'UPDATE' and new.connection_id = old.connection_id and new.team_id = old.team_id then
        return new;
    end if;
    select c.platform, coalesce(c.handle, c.display_name, c.external_account_id)
    into new.platform, new.account_name
    from public.social_connections as c where c.id = new.connection_id and c.team_id = new.team_id;
    if not found then
        raise exception 'the connection does not belong to this team' using errcode = '23503';
    end if;
    return new;
end
$$;
revoke execute on function app_private.check_destination_connection() from public;
drop trigger check_connection on public.post_destinations;
create trigger check_connection
    before insert or update of connection_id, team_id, status on public.post_destinations
    for each row execute function app_private.check_destination_connection();

-- The worker deletes the row first and revokes the platform's grant afterwards. Destinations
-- still waiting are settled first: drafts lose the destination, pending and scheduled ones are
-- canceled (`connection_deleted`). While one is being published right now the delete is
-- refused (try again in a minute) rather than pulling the connection from under it.
create or replace function public.delete_social_connection(connection_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform from public.social_connections as c where c.id = connection_id for update;
    if not found then
        return false;
    end if;
    perform from public.post_destinations as d where d.connection_id = delete_social_connection.connection_id
    for update;
    if exists (
        select from public.post_destinations as d
        where d.connection_id = delete_social_connection.connection_id and d.status = 'publishing'
    ) then
        raise exception 'a post is being published to this account right now; try again in a minute'
            using errcode = 'P0001';
    end if;
    delete from public.post_destinations as d
    where d.connection_id = delete_social_connection.connection_id and d.status = 'draft';
    update public.post_destinations as d
    set status = 'canceled', next_attempt_at = null, error_code = 'connection_deleted',
        error_message = 'The social account was disconnected.'
    where d.connection_id = delete_social_connection.connection_id and d.status in ('pending_approval', 'scheduled');
    delete from public.social_connections as c where c.id = connection_id;
    return true;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- OAuth: a started authorization is bound to the client that started it, so a link sent to
-- someone else cannot connect their account to the sender's team (consent injection).
--   cookie (`?mode=redirect`): /start sets a `__Host-` cookie with a random binding; the callback
--     completes only in the browser that sends it back.
--   app (JSON mode: the app opens the authorize URL itself, e.g. in ASWebAuthenticationSession):
--     the callback parks the platform's code and sends the browser back with a one-time
--     `confirmation`; the app that started (same user, holding the binding /start answered)
--     completes with POST /v1/oauth/{platform}/complete.
-- Only SHA-256 hashes of the binding and the confirmation are stored.
alter table app_private.oauth_states
    add column binding_hash text check (binding_hash ~ '^[0-9a-f]{64}$'),
    add column binding_kind text not null default 'cookie' check (binding_kind in ('cookie', 'app'));

create table app_private.oauth_confirmations (
    confirmation_hash text primary key check (confirmation_hash ~ '^[0-9a-f]{64}$'),
    binding_hash text not null check (binding_hash ~ '^[0-9a-f]{64}$'),
    user_id uuid not null references auth.users (id) on delete cascade,
    team_id uuid not null references public.teams (id) on delete cascade,
    platform public.social_platform not null,
    redirect_to text not null,
    code_verifier text not null,
    -- The platform's authorization code: short-lived, useless without the verifier and the
    -- app's secret; deleted when the app completes.
    authorization_code text not null check (char_length(authorization_code) <= 2000),
    expires_at timestamptz not null default now() + interval '5 minutes'
);
create index oauth_confirmations_expires_at_idx on app_private.oauth_confirmations (expires_at);

drop function public.create_oauth_state(uuid, uuid, public.social_platform, text, text, text);
drop function public.consume_oauth_state(text, public.social_platform);

-- Starts an authorization for `user_id`, who must be an owner or admin of the team (counted
-- against `oauth_start`). Also forgets states and confirmations that expired. Returns
-- `{"status": "created" | "forbidden" | "not_team_member"}`.
create function public.create_oauth_state(
    user_id uuid, team_id uuid, platform public.social_platform, state_hash text, redirect_to text,
    code_verifier text, binding_hash text default null, binding_kind text default 'cookie'
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
    perform app_private.take_rate_limit(user_id, 'oauth_start');
    delete from app_private.oauth_states as s where s.expires_at < now();
    delete from app_private.oauth_confirmations as c where c.expires_at < now();
    insert into app_private.oauth_states (state_hash, user_id, team_id, platform, redirect_to, code_verifier,
        binding_hash, binding_kind)
    values (state_hash, user_id, team_id, platform, redirect_to, code_verifier, binding_hash, binding_kind);
    return jsonb_build_object('status', 'created');
end
$$;
revoke execute on function public.create_oauth_state(uuid, uuid, public.social_platform, text, text, text,
    text, text)
    from public, anon, authenticated;
grant execute on function public.create_oauth_state(uuid, uuid, public.social_platform, text, text, text,
    text, text)
    to service_role;

-- The state's user may still connect accounts for its team.
create function app_private.oauth_user_may_connect(team_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(app_private.team_role_of(team_id, user_id) in ('owner', 'admin'), false)
$$;
revoke execute on function app_private.oauth_user_may_connect(uuid, uuid) from public;

-- Takes the state out (single use, whatever happens next). `invalid` when it is unknown,
-- already used, expired or for another platform: then nothing about it can be trusted, not even
-- where to send the browser. For a cookie-bound state, `browser_mismatch` (with its redirect)
-- unless `binding_hash` is the cookie's; for an app-bound state given the platform's code,
-- `confirm` (the code is parked under `confirmation_hash` for the app to complete).
-- `forbidden` when its user may no longer connect accounts for the team; else `valid`.
create function public.consume_oauth_state(
    state_hash text, platform public.social_platform, binding_hash text default null,
    authorization_code text default null, confirmation_hash text default null
)
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
    if taken.binding_kind = 'cookie' and binding_hash is distinct from taken.binding_hash then
        return jsonb_build_object('status', 'browser_mismatch', 'redirect_to', taken.redirect_to);
    end if;
    if not app_private.oauth_user_may_connect(taken.team_id, taken.user_id) then
        return jsonb_build_object('status', 'forbidden', 'redirect_to', taken.redirect_to);
    end if;
    if taken.binding_kind = 'app' and authorization_code is not null then
        insert into app_private.oauth_confirmations (confirmation_hash, binding_hash, user_id, team_id, platform,
            redirect_to, code_verifier, authorization_code)
        values (confirmation_hash, taken.binding_hash, taken.user_id, taken.team_id, taken.platform,
            taken.redirect_to, taken.code_verifier, authorization_code);
        return jsonb_build_object('status', 'confirm', 'redirect_to', taken.redirect_to);
    end if;
    return jsonb_build_object('status', 'valid', 'user_id', taken.user_id, 'team_id', taken.team_id,
        'redirect_to', taken.redirect_to, 'code_verifier', taken.code_verifier);
end
$$;
revoke execute on function public.consume_oauth_state(text, public.social_platform, text, text, text)
    from public, anon, authenticated;
grant execute on function public.consume_oauth_state(text, public.social_platform, text, text, text)
    to service_role;

-- The app completes a parked authorization: single use; `invalid` unless the confirmation is
-- known, unexpired, for this platform, started by `user_id` with this binding; `forbidden` when
-- the user may no longer connect accounts for the team; else `valid` with the code.
create function public.take_oauth_confirmation(
    confirmation_hash text, binding_hash text, user_id uuid, platform public.social_platform
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    taken app_private.oauth_confirmations;
begin
    delete from app_private.oauth_confirmations as c
    where c.confirmation_hash = take_oauth_confirmation.confirmation_hash
    returning c.* into taken;
    if taken is null or taken.expires_at < now() or taken.platform <> take_oauth_confirmation.platform
        or taken.user_id <> take_oauth_confirmation.user_id
        or taken.binding_hash <> take_oauth_confirmation.binding_hash then
        return jsonb_build_object('status', 'invalid');
    end if;
    if not app_private.oauth_user_may_connect(taken.team_id, taken.user_id) then
        return jsonb_build_object('status', 'forbidden');
    end if;
    return jsonb_build_object('status', 'valid', 'user_id', taken.user_id, 'team_id', taken.team_id,
        'redirect_to', taken.redirect_to, 'code_verifier', taken.code_verifier,
        'authorization_code', taken.authorization_code);
end
$$;
revoke execute on function public.take_oauth_confirmation(text, text, uuid, public.social_platform)
    from public, anon, authenticated;
grant execute on function public.take_oauth_confirmation(text, text, uuid, public.social_platform)
    to service_role;


-- ---------------------------------------------------------------------------------------------
-- Key rotation: stale rows are listed in pages after a cursor, so rows that no longer open
-- (skipped by the worker) cannot hold the rest back; stored AI keys are re-sealed too.
drop function public.social_connections_to_reseal(text, integer);

-- The ids (a JSON array) of connections sealed with another key version than `newest_version`,
-- by id, after `after_id`.
create function public.social_connections_to_reseal(
    newest_version text, batch_size integer default 100, after_id uuid default null
)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(stale.id order by stale.id), '[]')
    from (
        select c.id from public.social_connections as c
        where c.token_key_version <> newest_version and (after_id is null or c.id > after_id)
        order by c.id
        limit batch_size
    ) as stale
$$;
revoke execute on function public.social_connections_to_reseal(text, integer, uuid)
    from public, anon, authenticated;
grant execute on function public.social_connections_to_reseal(text, integer, uuid) to service_role;

-- Stored AI keys sealed with another key version (a JSON array of id, base_url, the sealed key
-- and its version), by id, after `after_id`.
create function public.ai_keys_to_reseal(newest_version text, batch_size integer default 100, after_id uuid default null)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('id', stale.id, 'base_url', stale.base_url,
               'encrypted_api_key', stale.encrypted_api_key, 'api_key_version', stale.api_key_version)
               order by stale.id), '[]')
    from (
        select c.id, c.base_url, c.encrypted_api_key, c.api_key_version from public.ai_provider_configs as c
        where c.encrypted_api_key is not null and c.api_key_version <> newest_version
          and (after_id is null or c.id > after_id)
        order by c.id
        limit batch_size
    ) as stale
$$;
revoke execute on function public.ai_keys_to_reseal(text, integer, uuid) from public, anon, authenticated;
grant execute on function public.ai_keys_to_reseal(text, integer, uuid) to service_role;

-- The same key sealed under the newest version, written only if the row still holds the key
-- and base URL that were read.
create function public.reseal_ai_key(
    config_id uuid, read_api_key text, encrypted_api_key text, api_key_version text, base_url text default null
)
returns boolean
language sql
security definer
set search_path = ''
as $$
    with resealed as (
        update public.ai_provider_configs as c
        set encrypted_api_key = reseal_ai_key.encrypted_api_key, api_key_version = reseal_ai_key.api_key_version
        where c.id = config_id and c.encrypted_api_key = read_api_key
          and c.base_url is not distinct from reseal_ai_key.base_url
        returning true
    )
    select exists (select from resealed)
$$;
revoke execute on function public.reseal_ai_key(uuid, text, text, text, text)
    from public, anon, authenticated;
grant execute on function public.reseal_ai_key(uuid, text, text, text, text) to service_role;
