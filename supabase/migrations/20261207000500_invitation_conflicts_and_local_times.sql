-- Issue #26. Invitations that cannot lead anywhere are refused before any email goes out: to
-- an address of a member, into a full team, or a second pending one to the same address (one
-- pending invitation per team and address, which also makes two identical invitations sent at
-- the same moment answer one 201 and one 409). And local wall times resolved with the
-- database's own time zone data, so an app can schedule "09:00 in Europe/Berlin" and hear about
-- DST gaps and overlaps instead of a silently shifted time.

-- ---------------------------------------------------------------------------------------------
-- One pending invitation per team and address. Older duplicates (possible until now) are
-- closed first, keeping the newest.
update public.team_invitations as i
set status = 'revoked', responded_at = now()
where i.status = 'pending' and exists (
    select from public.team_invitations as newer
    where newer.team_id = i.team_id and newer.email = i.email and newer.status = 'pending'
      and (newer.created_at, newer.id) > (i.created_at, i.id));
create unique index team_invitations_one_pending_idx
    on public.team_invitations (team_id, email) where status = 'pending';

-- The refusals below use PostgREST's `PT409` (HTTP 409 for direct callers too) with a stable
-- code in `detail`: `already_member`, `team_full`, `invitation_pending`.
create or replace function public.create_team_invitation(
    team_id uuid, email text, role public.team_role default 'member', valid_for interval default '7 days'
)
returns table (invitation_id uuid, token text)
language plpgsql
security definer
set search_path = ''
as $$
declare
    invitee_email text := lower(btrim(email));
    team public.teams;
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
    if exists (
        select from public.team_members as m join auth.users as u on u.id = m.user_id
        where m.team_id = create_team_invitation.team_id and lower(u.email) = invitee_email
    ) then
        raise exception 'that address belongs to a member of this team'
            using errcode = 'PT409', detail = 'already_member';
    end if;
    select t.* into team from public.teams as t where t.id = create_team_invitation.team_id;
    if team.member_count >= team.member_cap then
        raise exception 'this team is full (at most % members); free a seat before inviting', team.member_cap
            using errcode = 'PT409', detail = 'team_full';
    end if;
    perform app_private.take_rate_limit((select auth.uid()), 'invitation');
    perform app_private.take_rate_limit(team_id, 'team_invitation');
    -- An expired invitation to the address gives way to the new one.
    update public.team_invitations as i
    set status = 'revoked', responded_at = now(), responded_by = (select auth.uid())
    where i.team_id = create_team_invitation.team_id and i.email = invitee_email
      and i.status = 'pending' and i.expires_at <= now();
    token := encode(extensions.gen_random_bytes(32), 'hex');
    begin
        insert into public.team_invitations (team_id, email, role, token_hash, invited_by, expires_at)
        values (team_id, invitee_email, role, app_private.hash_invitation_token(token),
                (select auth.uid()), now() + valid_for)
        returning id into invitation_id;
    exception when unique_violation then
        raise exception 'an invitation to that address is already pending; revoke it to invite again'
            using errcode = 'PT409', detail = 'invitation_pending';
    end;
    perform app_private.log_team_event(team_id, 'invitation.created', null,
        jsonb_build_object('invitation_id', invitation_id, 'email', invitee_email, 'role', role));
    return next;
end
$$;
revoke execute on function public.create_team_invitation(uuid, text, public.team_role, interval) from public, anon;
grant execute on function public.create_team_invitation(uuid, text, public.team_role, interval)
    to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- `local_time` in `time_zone` (an IANA name): `{status: resolved, at}` when exactly one instant
-- reads so; `{status: ambiguous, candidates: [earlier, later]}` when the clocks went back over
-- it; `{status: nonexistent, candidates}` when they jumped over it (the candidates read the wall
-- time with the offsets before and after the jump). Instants are RFC 3339 written in the zone
-- (its wall time and UTC offset), for a client to show or send back as-is. An unknown zone
-- raises 22023, as `submit_post` does.
create function public.resolve_local_time(local_time timestamp, time_zone text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    readings timestamptz[];
    matching timestamptz[];
begin
    perform from pg_catalog.pg_timezone_names where name = time_zone;
    if not found then
        raise exception 'unknown time zone %', time_zone using errcode = '22023';
    end if;
    -- Each UTC offset the zone had within a day of the wall time gives one reading of it;
    -- transitions are weeks apart, so these are the offsets on both sides of any near it.
    select array_agg(distinct (local_time - o.utc_offset) at time zone 'UTC'
                     order by (local_time - o.utc_offset) at time zone 'UTC') into readings
    from generate_series(-1, 1) as probe(days),
        lateral (select (local_time + make_interval(days => probe.days)) at time zone 'UTC' as instant) as p,
        lateral (select (p.instant at time zone time_zone) - (p.instant at time zone 'UTC') as utc_offset) as o;
    select coalesce(array_agg(reading order by reading), '{}') into matching
    from unnest(readings) as reading
    where reading at time zone time_zone = local_time;
    return (
        select case cardinality(matching)
                   when 1 then jsonb_build_object('status', 'resolved', 'at', min(f.written))
                   when 0 then jsonb_build_object('status', 'nonexistent', 'candidates', jsonb_agg(f.written order by c.instant))
                   else jsonb_build_object('status', 'ambiguous', 'candidates', jsonb_agg(f.written order by c.instant))
               end
        from unnest(case when cardinality(matching) = 0 then readings else matching end) as c(instant),
            lateral (select c.instant at time zone time_zone as wall) as w,
            lateral (select (extract(epoch from w.wall - (c.instant at time zone 'UTC')) / 60)::integer as minutes) as o,
            lateral (select to_char(w.wall, 'YYYY-MM-DD"T"HH24:MI:SS')
                            || case when o.minutes < 0 then '-' else '+' end
                            || to_char(abs(o.minutes) / 60, 'FM00') || ':' || to_char(abs(o.minutes) % 60, 'FM00')
                            as written) as f);
end
$$;
comment on function public.resolve_local_time(timestamp, text) is
    'A wall time in an IANA zone as an instant, or why it is not one (a DST gap or overlap).';
revoke execute on function public.resolve_local_time(timestamp, text) from public, anon;
grant execute on function public.resolve_local_time(timestamp, text) to authenticated, service_role;
