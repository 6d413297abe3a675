-- Teams, their members and the security audit log. Every collaboration table is scoped to a
-- team; RLS policies ask app_private.user_team_ids() which teams the caller belongs to.
-- Membership changes only through the RPCs below (security definer, explicit checks), so the
-- rules hold whatever a client sends: exactly one owner, owners/admins manage members, the
-- owner changes only by transfer, and the member cap is never exceeded.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

create type public.team_role as enum ('owner', 'admin', 'member');

create table public.teams (
    id uuid primary key default gen_random_uuid(),
    name text not null check (name = btrim(name) and char_length(name) between 1 and 100),
    -- The plan's seat limit: set by the service role (billing), not by clients.
    member_cap integer not null default 3 check (member_cap between 1 and 10000),
    -- Kept by triggers on team_members; the cap is enforced on this counter (see below).
    member_count integer not null default 0 check (member_count >= 0),
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.teams is 'A team: the unit every campaign, asset and chat belongs to. Created with create_team().';

create table public.team_members (
    team_id uuid not null references public.teams (id) on delete cascade,
    user_id uuid not null references auth.users (id) on delete cascade,
    role public.team_role not null default 'member',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (team_id, user_id)
);
comment on table public.team_members is 'Who belongs to which team, with which role. Changed only through the team RPCs.';
-- user_team_ids() looks members up by user.
create index team_members_user_id_idx on public.team_members (user_id);
-- At most one owner, checked row by row so concurrent transfers cannot both succeed.
create unique index team_members_one_owner_idx on public.team_members (team_id) where role = 'owner';

create table public.audit_log (
    id bigint generated always as identity primary key,
    team_id uuid not null references public.teams (id) on delete cascade,
    actor_id uuid references auth.users (id) on delete set null,
    action text not null check (action in (
        'member.added', 'member.removed', 'member.left', 'member.role_changed',
        'invitation.created', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
        'ownership.transferred', 'ai.prompt_logging_changed')),
    target_user_id uuid references auth.users (id) on delete set null,
    details jsonb not null default '{}',
    created_at timestamptz not null default now()
);
comment on table public.audit_log is 'Security-relevant team events, written by the RPCs; readable by owners and admins.';
create index audit_log_team_id_id_idx on public.audit_log (team_id, id desc);

create trigger set_updated_at
    before update on public.teams
    for each row execute function app_private.set_updated_at();

create trigger set_updated_at
    before update on public.team_members
    for each row execute function app_private.set_updated_at();

-- The teams the signed-in user belongs to with one of `roles`. Policies compare with
-- `team_id = any ((select app_private.user_team_ids())::uuid[])`: the sub-select runs once per
-- statement and the array becomes an index condition on team_id (the cast keeps the parser
-- from reading `any ((select …))` as a row-wise ANY over a subquery). Security definer so reading
-- team_members here does not apply team_members' own policy (which calls this: recursion).
-- PL/pgSQL rather than SQL: it keeps its query plan for the session, where a SQL function with
-- a SET clause is planned on every call (3-4x slower, and this runs once per request).
create function app_private.user_team_ids(roles public.team_role[] default '{owner,admin,member}')
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(array_agg(m.team_id), '{}')
        from public.team_members as m
        where m.user_id = (select auth.uid()) and m.role = any (roles)
    );
end
$$;

-- Everyone who shares a team with the signed-in user (including the user).
create function app_private.teammate_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(array_agg(distinct m.user_id), '{}')
        from public.team_members as m
        where m.team_id = any (app_private.user_team_ids())
    );
end
$$;

create function app_private.log_team_event(
    team_id uuid, action text, target_user_id uuid default null, details jsonb default '{}'
)
returns void
language sql
set search_path = ''
as $$
    insert into public.audit_log (team_id, actor_id, action, target_user_id, details)
    values (team_id, (select auth.uid()), action, target_user_id, details)
$$;

-- The member cap, race-free in any isolation level: a seat is taken by incrementing the
-- team's counter only while it is below the cap. Concurrent joins update the same row, so
-- they queue on its lock; under READ COMMITTED the waiter re-checks the condition against
-- the committed count, under REPEATABLE READ it fails with a serialization error. (Locking
-- the row and then counting members would let a REPEATABLE READ waiter count from its old
-- snapshot.) Security definer, like release_team_seat(): whoever changes membership (an RPC,
-- the service role, a cascade from deleting a team) has no right to write the counter.
create function app_private.take_team_seat()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    cap integer;
begin
    update public.teams set member_count = member_count + 1
    where id = new.team_id and member_count < member_cap;
    if not found then
        select t.member_cap into cap from public.teams as t where t.id = new.team_id;
        if cap is not null then
            raise exception 'team is full (at most % members)', cap
                using errcode = 'P0001', hint = 'Remove a member before adding another.';
        end if;
        -- No such team: the foreign key reports it.
    end if;
    return new;
end
$$;

create function app_private.release_team_seat()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.teams set member_count = member_count - 1 where id = old.team_id;
    return null;
end
$$;

create trigger take_seat
    before insert on public.team_members
    for each row execute function app_private.take_team_seat();

create trigger release_seat
    after delete on public.team_members
    for each row execute function app_private.release_team_seat();

-- At least one owner, checked at commit so a transfer may demote before it promotes. Also
-- stops deleting the auth user who owns a team (the cascade would orphan it). A team that is
-- itself being deleted is exempt. Security definer: it also runs when Supabase Auth deletes a
-- user (as supabase_auth_admin, which cannot read public tables).
create function app_private.check_team_has_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    checked_team uuid := case tg_op when 'DELETE' then old.team_id else new.team_id end;
begin
    if exists (select from public.teams where id = checked_team)
        and not exists (select from public.team_members where team_id = checked_team and role = 'owner')
    then
        raise exception 'team % would have no owner', checked_team
            using errcode = 'P0001', hint = 'Transfer ownership with transfer_team_ownership() first.';
    end if;
    return null;
end
$$;

create constraint trigger team_has_owner
    after update of role or delete on public.team_members
    deferrable initially deferred
    for each row execute function app_private.check_team_has_owner();

-- Privileges: members read; owners/admins rename; the owner deletes. All membership writes go
-- through the RPCs. anon gets nothing.
alter table public.teams enable row level security;
alter table public.team_members enable row level security;
alter table public.audit_log enable row level security;
revoke all on public.teams, public.team_members, public.audit_log from anon, authenticated;
grant select, delete on public.teams to authenticated;
grant update (name) on public.teams to authenticated;
grant select on public.team_members, public.audit_log to authenticated;
grant select, insert, update, delete on public.teams, public.team_members, public.audit_log to service_role;

create policy "Members can read their teams"
    on public.teams for select to authenticated
    using (id = any ((select app_private.user_team_ids())::uuid[]));

create policy "Owners and admins can rename their teams"
    on public.teams for update to authenticated
    using (id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]))
    with check (id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]));

create policy "Owners can delete their teams"
    on public.teams for delete to authenticated
    using (id = any ((select app_private.user_team_ids('{owner}'))::uuid[]));

create policy "Members can read their team's members"
    on public.team_members for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));

create policy "Owners and admins can read their team's audit log"
    on public.audit_log for select to authenticated
    using (team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]));

-- Teammates need each other's names and avatars (member lists, chat).
create policy "Users can read their teammates' profiles"
    on public.profiles for select to authenticated
    using (id = any ((select app_private.teammate_ids())::uuid[]));

-- RPCs. Each checks the caller's role itself: security definer bypasses RLS.

create function public.create_team(name text)
returns public.teams
language plpgsql
security definer
set search_path = ''
as $$
declare
    caller uuid := (select auth.uid());
    team_id uuid;
    created public.teams;
begin
    if caller is null then
        raise exception 'sign in to create a team' using errcode = '42501';
    end if;
    insert into public.teams (name, created_by) values (create_team.name, caller)
    returning id into team_id;
    insert into public.team_members (team_id, user_id, role) values (team_id, caller, 'owner');
    -- Re-read: the seat trigger has updated member_count since the insert.
    select * into created from public.teams as t where t.id = team_id;
    return created;
end
$$;
comment on function public.create_team(text) is 'Creates a team owned by the caller; returns it.';
revoke execute on function public.create_team(text) from public, anon;
grant execute on function public.create_team(text) to authenticated, service_role;

-- Owners and admins set another member's role to admin or member; the owner's role changes
-- only through transfer_team_ownership().
create function public.update_team_member_role(team_id uuid, user_id uuid, role public.team_role)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    previous_role public.team_role;
begin
    if not (team_id = any (app_private.user_team_ids('{owner,admin}'))) then
        raise exception 'only the team''s owner or an admin can change roles' using errcode = '42501';
    end if;
    if role = 'owner' then
        raise exception 'use transfer_team_ownership() to make someone the owner' using errcode = '42501';
    end if;
    select m.role into previous_role
    from public.team_members as m
    where m.team_id = update_team_member_role.team_id and m.user_id = update_team_member_role.user_id
    for update;
    if previous_role is null then
        raise exception 'user % is not a member of this team', user_id using errcode = 'P0002';
    end if;
    if previous_role = 'owner' then
        raise exception 'the owner''s role changes only by transferring ownership' using errcode = '42501';
    end if;
    if previous_role <> role then
        update public.team_members as m set role = update_team_member_role.role
        where m.team_id = update_team_member_role.team_id and m.user_id = update_team_member_role.user_id;
        perform app_private.log_team_event(team_id, 'member.role_changed', user_id,
            jsonb_build_object('from', previous_role, 'to', role));
    end if;
end
$$;
comment on function public.update_team_member_role(uuid, uuid, public.team_role) is
    'Owner/admin: make a member an admin or a plain member.';
revoke execute on function public.update_team_member_role(uuid, uuid, public.team_role) from public, anon;
grant execute on function public.update_team_member_role(uuid, uuid, public.team_role)
    to authenticated, service_role;

-- Owners and admins remove members; any member removes themself (leaves). Never the owner.
create function public.remove_team_member(team_id uuid, user_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    leaving boolean := user_id = (select auth.uid());
    removed_role public.team_role;
begin
    if not (team_id = any (app_private.user_team_ids(
        case when leaving then '{owner,admin,member}' else '{owner,admin}' end::public.team_role[])))
    then
        raise exception 'only the team''s owner or an admin can remove members' using errcode = '42501';
    end if;
    select m.role into removed_role
    from public.team_members as m
    where m.team_id = remove_team_member.team_id and m.user_id = remove_team_member.user_id
    for update;
    if removed_role is null then
        raise exception 'user % is not a member of this team', user_id using errcode = 'P0002';
    end if;
    if removed_role = 'owner' then
        raise exception 'the owner cannot be removed' using errcode = '42501',
            hint = 'Transfer ownership with transfer_team_ownership() first.';
    end if;
    delete from public.team_members as m
    where m.team_id = remove_team_member.team_id and m.user_id = remove_team_member.user_id;
    perform app_private.log_team_event(team_id, case when leaving then 'member.left' else 'member.removed' end,
        user_id, jsonb_build_object('role', removed_role));
end
$$;
comment on function public.remove_team_member(uuid, uuid) is
    'Owner/admin: remove a member. Any member: remove yourself (leave). The owner cannot be removed.';
revoke execute on function public.remove_team_member(uuid, uuid) from public, anon;
grant execute on function public.remove_team_member(uuid, uuid) to authenticated, service_role;

-- The owner hands ownership to another member and becomes an admin.
create function public.transfer_team_ownership(team_id uuid, new_owner_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    caller uuid := (select auth.uid());
begin
    if not (team_id = any (app_private.user_team_ids('{owner}'))) then
        raise exception 'only the team''s owner can transfer ownership' using errcode = '42501';
    end if;
    if new_owner_id = caller then
        raise exception 'you already own this team' using errcode = 'P0001';
    end if;
    -- Demote first: the one-owner index is checked row by row.
    update public.team_members as m set role = 'admin'
    where m.team_id = transfer_team_ownership.team_id and m.user_id = caller;
    update public.team_members as m set role = 'owner'
    where m.team_id = transfer_team_ownership.team_id and m.user_id = new_owner_id;
    if not found then
        raise exception 'user % is not a member of this team', new_owner_id using errcode = 'P0002';
    end if;
    perform app_private.log_team_event(team_id, 'ownership.transferred', new_owner_id,
        jsonb_build_object('from', caller, 'to', new_owner_id));
end
$$;
comment on function public.transfer_team_ownership(uuid, uuid) is
    'Owner: make another member the owner; the previous owner becomes an admin.';
revoke execute on function public.transfer_team_ownership(uuid, uuid) from public, anon;
grant execute on function public.transfer_team_ownership(uuid, uuid) to authenticated, service_role;
