-- Team invitations. An owner or admin invites an email address with a role and gets a random
-- token once (to send by link); only its SHA-256 is stored. Whoever signs in with that
-- verified email accepts (joining the team, within its member cap) or declines it, once,
-- before it expires. Rows are kept for history: an expired invitation is one still
-- `pending` after expires_at.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

create type public.invitation_status as enum ('pending', 'accepted', 'declined', 'revoked');

create table public.team_invitations (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    email text not null
        check (email = lower(btrim(email)) and email ~ '^[^@\s]+@[^@\s]+$' and char_length(email) <= 320),
    role public.team_role not null default 'member' check (role <> 'owner'),
    -- SHA-256 of a 256-bit random token: unsalted is enough for such a token and allows lookup.
    token_hash bytea not null unique,
    status public.invitation_status not null default 'pending',
    invited_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    responded_at timestamptz,
    responded_by uuid references auth.users (id) on delete set null,
    check ((status = 'pending') = (responded_at is null))
);
comment on table public.team_invitations is
    'Invitations to join a team; readable by the team''s owner and admins, changed only through the invitation RPCs.';
create index team_invitations_team_id_created_at_idx on public.team_invitations (team_id, created_at desc);

alter table public.team_invitations enable row level security;
revoke all on public.team_invitations from anon, authenticated;
grant select on public.team_invitations to authenticated;
grant select, insert, update, delete on public.team_invitations to service_role;

create policy "Owners and admins can read their team's invitations"
    on public.team_invitations for select to authenticated
    using (team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]));

create function app_private.hash_invitation_token(token text)
returns bytea
language sql
immutable
set search_path = ''
as $$
    select extensions.digest(token, 'sha256')
$$;

-- The still-usable invitation with this token, locked so that two concurrent accepts of the
-- same token serialize and the second sees it already accepted.
create function app_private.lock_pending_invitation(token text)
returns public.team_invitations
language plpgsql
set search_path = ''
as $$
declare
    invitation public.team_invitations;
begin
    select * into invitation
    from public.team_invitations as i
    where i.token_hash = app_private.hash_invitation_token(token)
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

-- The caller, if signed in with the invited email address and that address is verified.
-- auth.users is only readable here because the calling RPCs are security definer.
create function app_private.require_invitee(invited_email text)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    invitee auth.users;
begin
    select * into invitee from auth.users as u where u.id = (select auth.uid());
    if not found then
        raise exception 'sign in to respond to an invitation' using errcode = '42501';
    end if;
    if invitee.email_confirmed_at is null then
        raise exception 'confirm your email address before responding to an invitation' using errcode = '42501';
    end if;
    if lower(invitee.email) is distinct from invited_email then
        raise exception 'this invitation was sent to a different email address' using errcode = '42501';
    end if;
    return invitee.id;
end
$$;

-- Owner/admin: invite `email` as `role`. Returns the token; it cannot be retrieved later.
create function public.create_team_invitation(
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
comment on function public.create_team_invitation(uuid, text, public.team_role, interval) is
    'Owner/admin: invite an email address; returns the token (shown once).';
revoke execute on function public.create_team_invitation(uuid, text, public.team_role, interval)
    from public, anon;
grant execute on function public.create_team_invitation(uuid, text, public.team_role, interval)
    to authenticated, service_role;

-- Any signed-in holder of a valid token: the team's name and who invited them, nothing more.
create function public.get_team_invitation(token text)
returns table (team_name text, invited_by_name text)
language plpgsql
security definer
set search_path = ''
as $$
declare
    invitation public.team_invitations := app_private.lock_pending_invitation(token);
begin
    return query
    select t.name, p.display_name
    from public.teams as t
    left join public.profiles as p on p.id = invitation.invited_by
    where t.id = invitation.team_id;
end
$$;
comment on function public.get_team_invitation(text) is
    'Signed-in user holding a valid token: the inviting team''s name and the inviter''s display name.';
-- Looking a token up needs a signed-in user too: the invitee signs in (or up) before the
-- invitation page shows anything, which keeps token probing behind authentication.
revoke execute on function public.get_team_invitation(text) from public, anon;
grant execute on function public.get_team_invitation(text) to authenticated, service_role;

-- The invitee joins the team (the seat trigger enforces the cap); returns the team id.
create function public.accept_team_invitation(token text)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
    invitation public.team_invitations := app_private.lock_pending_invitation(token);
    invitee uuid := app_private.require_invitee(invitation.email);
begin
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
comment on function public.accept_team_invitation(text) is
    'Signed-in user whose verified email was invited: join the team; returns its id.';
revoke execute on function public.accept_team_invitation(text) from public, anon;
grant execute on function public.accept_team_invitation(text) to authenticated, service_role;

create function public.decline_team_invitation(token text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    invitation public.team_invitations := app_private.lock_pending_invitation(token);
    invitee uuid := app_private.require_invitee(invitation.email);
begin
    update public.team_invitations as i
    set status = 'declined', responded_at = now(), responded_by = invitee
    where i.id = invitation.id;
    perform app_private.log_team_event(invitation.team_id, 'invitation.declined', invitee,
        jsonb_build_object('invitation_id', invitation.id));
end
$$;
comment on function public.decline_team_invitation(text) is
    'Signed-in user whose verified email was invited: decline the invitation.';
revoke execute on function public.decline_team_invitation(text) from public, anon;
grant execute on function public.decline_team_invitation(text) to authenticated, service_role;

create function public.revoke_team_invitation(invitation_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    invitation public.team_invitations;
begin
    select * into invitation from public.team_invitations as i where i.id = invitation_id for update;
    if not found or not (invitation.team_id = any (app_private.user_team_ids('{owner,admin}'))) then
        raise exception 'invitation not found' using errcode = 'P0002';
    end if;
    if invitation.status <> 'pending' then
        raise exception 'this invitation has already been %', invitation.status using errcode = 'P0001';
    end if;
    update public.team_invitations as i set status = 'revoked', responded_at = now(), responded_by = (select auth.uid())
    where i.id = invitation_id;
    perform app_private.log_team_event(invitation.team_id, 'invitation.revoked', null,
        jsonb_build_object('invitation_id', invitation_id, 'email', invitation.email));
end
$$;
comment on function public.revoke_team_invitation(uuid) is 'Owner/admin: revoke a pending invitation.';
revoke execute on function public.revoke_team_invitation(uuid) from public, anon;
grant execute on function public.revoke_team_invitation(uuid) to authenticated, service_role;
