-- Publishing: posts written by a team, each sent to one or more connected social accounts
-- (destinations), now or at a scheduled time, exactly once.
--
-- Clients write drafts through PostgREST (RLS: team members) and move them on through the
-- worker (`/v1/posts/{id}/schedule | publish | approve | reject | cancel | retry`), which
-- validates the platform options and runs the moderation check, then calls the service-role
-- RPCs below with the user id it verified. A destination's lifecycle:
--
--   draft → pending_approval → scheduled → publishing → published | failed | unconfirmed
--   (draft, pending_approval and scheduled may also become canceled)
--
-- Exactly once: a dispatcher claims due destinations under a lease (FOR UPDATE SKIP LOCKED),
-- records its intent (`begin_publish_attempt`) before the one irreversible platform call and
-- the outcome after it. A destination whose lease expired after an intent was recorded is
-- handed out as `ambiguous`: the post may be live, so the dispatcher looks it up at the
-- platform or marks it `unconfirmed`, and never posts it again on its own.

-- Whether plain members' posts wait for an owner's or admin's approval (set by owners/admins).
alter table public.teams add column requires_post_approval boolean not null default false;
grant update (requires_post_approval) on public.teams to authenticated;

create type public.post_destination_status as enum (
    'draft', 'pending_approval', 'scheduled', 'publishing', 'published', 'failed', 'unconfirmed', 'canceled');
create type public.post_approval_status as enum ('not_required', 'pending', 'approved', 'rejected');

create table public.scheduled_posts (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    -- The idempotency key of the client that created the post: one post per key and team.
    client_post_id text check (char_length(client_post_id) between 1 and 200),
    body text not null default '' check (char_length(body) <= 65536),
    -- Media from Storage: [{"bucket", "path", "mimeType"?}], in order; checked by the worker
    -- against each platform's limits before anything is scheduled.
    media jsonb not null default '[]' check (jsonb_typeof(media) = 'array' and jsonb_array_length(media) <= 20),
    -- When to publish (UTC) and the author's IANA time zone, kept for display.
    scheduled_at timestamptz,
    timezone text not null default 'UTC' check (char_length(timezone) between 1 and 64),
    approval_status public.post_approval_status not null default 'not_required',
    reviewed_by uuid references auth.users (id) on delete set null,
    review_comment text check (char_length(review_comment) <= 2000),
    reviewed_at timestamptz,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, client_post_id),
    unique (team_id, id)
);
comment on table public.scheduled_posts is 'A post of a team and its schedule; its destinations carry the publishing state.';

create table public.post_destinations (
    id uuid primary key default gen_random_uuid(),
    post_id uuid not null,
    team_id uuid not null,
    connection_id uuid not null references public.social_connections (id) on delete restrict,
    -- Platform-specific options (Pinterest board, YouTube title/privacy/category/tags, TikTok
    -- privacy and interaction flags, X reply settings, LinkedIn visibility, …), validated by
    -- the worker per platform before the post is scheduled.
    options jsonb not null default '{}' check (jsonb_typeof(options) = 'object'),
    status public.post_destination_status not null default 'draft',
    -- When the next attempt is due; null while not scheduled.
    next_attempt_at timestamptz,
    attempts integer not null default 0,
    lease_id uuid,
    lease_expires_at timestamptz,
    -- Set when an attempt's irreversible platform call may have started; cleared by its outcome.
    attempt_started_at timestamptz,
    external_id text check (char_length(external_id) <= 300),
    permalink text check (char_length(permalink) <= 2000),
    error_code text check (char_length(error_code) <= 100),
    error_message text check (char_length(error_message) <= 1000),
    published_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (post_id, connection_id),
    foreign key (team_id, post_id) references public.scheduled_posts (team_id, id) on delete cascade
);
comment on table public.post_destinations is 'One social account a post goes to, with its publishing state.';
create index post_destinations_post_id_idx on public.post_destinations (post_id);
create index post_destinations_connection_id_idx on public.post_destinations (connection_id);
-- The dispatcher's two claims: due scheduled rows, and leases that expired mid-publish.
create index post_destinations_due_idx on public.post_destinations (next_attempt_at) where status = 'scheduled';
create index post_destinations_lease_idx on public.post_destinations (lease_expires_at) where status = 'publishing';

-- Every attempt and outcome, for the status endpoint and audits. Written by the RPCs only.
create table public.publish_events (
    id bigint generated always as identity primary key,
    destination_id uuid not null references public.post_destinations (id) on delete cascade,
    post_id uuid not null,
    team_id uuid not null references public.teams (id) on delete cascade,
    attempt integer not null,
    event text not null check (event in (
        'attempt_started', 'published', 'retry_scheduled', 'failed', 'unconfirmed', 'found_existing',
        'lease_expired', 'canceled', 'retry_requested')),
    request_id text check (char_length(request_id) <= 100),
    platform_status integer,
    external_id text check (char_length(external_id) <= 300),
    permalink text check (char_length(permalink) <= 2000),
    error_code text check (char_length(error_code) <= 100),
    error_message text check (char_length(error_message) <= 1000),
    duration_ms integer,
    created_at timestamptz not null default now()
);
comment on table public.publish_events is 'The history of each destination: attempts, outcomes, durations.';
create index publish_events_destination_id_idx on public.publish_events (destination_id, id);
create index publish_events_team_id_idx on public.publish_events (team_id, created_at desc);

create trigger stamp before insert or update on public.scheduled_posts
    for each row execute function app_private.stamp_team_row();
create trigger set_updated_at before update on public.post_destinations
    for each row execute function app_private.set_updated_at();

-- A draft's content and destinations change only while every destination is still a draft
-- (a rejected post returns to draft): what was approved or scheduled is what goes out.
create function app_private.post_is_editable(post_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select not exists (
        select from public.post_destinations as d where d.post_id = post_is_editable.post_id and d.status <> 'draft')
$$;
revoke execute on function app_private.post_is_editable(uuid) from public;
-- RLS policies call it as the signed-in user.
grant execute on function app_private.post_is_editable(uuid) to authenticated;

-- A destination's connection must belong to the post's team.
create function app_private.check_destination_connection()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not exists (
        select from public.social_connections as c where c.id = new.connection_id and c.team_id = new.team_id
    ) then
        raise exception 'the connection does not belong to this team' using errcode = '23503';
    end if;
    return new;
end
$$;
revoke execute on function app_private.check_destination_connection() from public;
create trigger check_connection before insert or update of connection_id, team_id on public.post_destinations
    for each row execute function app_private.check_destination_connection();

alter table public.scheduled_posts enable row level security;
alter table public.post_destinations enable row level security;
alter table public.publish_events enable row level security;

revoke all on public.scheduled_posts, public.post_destinations, public.publish_events from anon, authenticated;
grant select on public.scheduled_posts, public.post_destinations, public.publish_events to authenticated;
-- Clients write content; schedule, approval and publishing state move only through the worker.
grant insert (id, team_id, client_post_id, body, media, timezone) on public.scheduled_posts to authenticated;
grant update (body, media, timezone) on public.scheduled_posts to authenticated;
grant delete on public.scheduled_posts to authenticated;
grant insert (id, post_id, team_id, connection_id, options) on public.post_destinations to authenticated;
grant update (options) on public.post_destinations to authenticated;
grant delete on public.post_destinations to authenticated;
grant select, insert, update, delete on public.scheduled_posts, public.post_destinations, public.publish_events
    to service_role;

create policy "Members can read their team's posts"
    on public.scheduled_posts for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));
create policy "Members can write posts for their team"
    on public.scheduled_posts for insert to authenticated
    with check (team_id = any ((select app_private.user_team_ids())::uuid[]));
create policy "Authors, owners and admins can edit drafts"
    on public.scheduled_posts for update to authenticated
    using ((created_by = (select auth.uid()) or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]))
           and app_private.post_is_editable(id))
    with check (team_id = any ((select app_private.user_team_ids())::uuid[]));
create policy "Authors, owners and admins can delete drafts"
    on public.scheduled_posts for delete to authenticated
    using ((created_by = (select auth.uid()) or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]))
           and app_private.post_is_editable(id));

create policy "Members can read their team's destinations"
    on public.post_destinations for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));
create policy "Members can add destinations to their team's drafts"
    on public.post_destinations for insert to authenticated
    with check (team_id = any ((select app_private.user_team_ids())::uuid[])
                and status = 'draft' and app_private.post_is_editable(post_id));
create policy "Members can change their team's draft destinations"
    on public.post_destinations for update to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]) and status = 'draft')
    with check (team_id = any ((select app_private.user_team_ids())::uuid[]) and status = 'draft');
create policy "Members can remove their team's draft destinations"
    on public.post_destinations for delete to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]) and status = 'draft');

create policy "Members can read their team's publishing history"
    on public.publish_events for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));

alter publication supabase_realtime add table public.post_destinations;

-- A post with its destinations, as the status endpoint and the RPCs answer.
create function app_private.post_snapshot(post_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select jsonb_build_object(
        'id', p.id, 'teamId', p.team_id, 'clientPostId', p.client_post_id, 'scheduledAt', p.scheduled_at,
        'timezone', p.timezone, 'approvalStatus', p.approval_status, 'reviewComment', p.review_comment,
        'destinations', coalesce((
            select jsonb_agg(jsonb_build_object(
                'id', d.id, 'connectionId', d.connection_id, 'platform', c.platform, 'status', d.status,
                'attempts', d.attempts, 'nextAttemptAt', d.next_attempt_at, 'externalId', d.external_id,
                'permalink', d.permalink, 'errorCode', d.error_code, 'errorMessage', d.error_message,
                'publishedAt', d.published_at) order by d.created_at, d.id)
            from public.post_destinations as d
            join public.social_connections as c on c.id = d.connection_id
            where d.post_id = p.id), '[]'))
    from public.scheduled_posts as p
    where p.id = post_snapshot.post_id
$$;
revoke execute on function app_private.post_snapshot(uuid) from public;

-- The caller's role in the post's team, or null when the post is not visible to them.
create function app_private.post_role(post_id uuid, user_id uuid)
returns public.team_role
language sql
stable
set search_path = ''
as $$
    select m.role
    from public.scheduled_posts as p
    join public.team_members as m on m.team_id = p.team_id and m.user_id = post_role.user_id
    where p.id = post_role.post_id
$$;
revoke execute on function app_private.post_role(uuid, uuid) from public;

-- Why `user_id` may not act on the post: `not_found` (not in its team), `forbidden` (a plain
-- member acting on another's post, or on any post when `owners_only`), else null.
create function app_private.post_refusal(post_id uuid, user_id uuid, owners_only boolean default false)
returns text
language sql
stable
set search_path = ''
as $$
    select case
        when role is null then 'not_found'
        when role = 'member' and (owners_only or author is distinct from post_refusal.user_id) then 'forbidden'
    end
    from (select app_private.post_role(post_refusal.post_id, post_refusal.user_id) as role,
                 (select p.created_by from public.scheduled_posts as p where p.id = post_refusal.post_id) as author)
         as caller
$$;
revoke execute on function app_private.post_refusal(uuid, uuid, boolean) from public;

-- Submits a draft for publishing at `scheduled_at` (now or later), or moves a scheduled post to
-- another time. Plain members of a team that requires approval submit for review instead.
-- Returns {status: scheduled | pending_approval | not_found | forbidden | not_editable |
-- no_destinations, post}.
create function public.submit_post(user_id uuid, post_id uuid, scheduled_at timestamptz, timezone text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    role public.team_role := app_private.post_role(post_id, user_id);
    post public.scheduled_posts;
    needs_approval boolean;
    states public.post_destination_status[];
begin
    if role is null then
        return jsonb_build_object('status', 'not_found');
    end if;
    select p.* into post from public.scheduled_posts as p where p.id = post_id for update;
    if role = 'member' and post.created_by is distinct from user_id then
        return jsonb_build_object('status', 'forbidden');
    end if;
    perform from pg_catalog.pg_timezone_names where name = timezone;
    if not found then
        raise exception 'unknown time zone %', timezone using errcode = '22023';
    end if;
    select coalesce(array_agg(distinct d.status), '{}') into states
    from public.post_destinations as d where d.post_id = submit_post.post_id;
    if states = '{}' then
        return jsonb_build_object('status', 'no_destinations');
    end if;
    -- Drafts are submitted; an all-scheduled post may move to another time.
    if not (states <@ array['draft']::public.post_destination_status[]
            or states <@ array['scheduled']::public.post_destination_status[]) then
        return jsonb_build_object('status', 'not_editable', 'post', app_private.post_snapshot(post_id));
    end if;
    needs_approval := role = 'member' and post.approval_status <> 'approved'
        and (select t.requires_post_approval from public.teams as t where t.id = post.team_id);

    update public.scheduled_posts as p
    set scheduled_at = submit_post.scheduled_at, timezone = submit_post.timezone,
        approval_status = case when needs_approval then 'pending'
                               when p.approval_status = 'approved' then 'approved'
                               else 'not_required' end::public.post_approval_status
    where p.id = post_id;
    update public.post_destinations as d
    set status = case when needs_approval then 'pending_approval' else 'scheduled' end::public.post_destination_status,
        next_attempt_at = case when needs_approval then null else submit_post.scheduled_at end,
        error_code = null, error_message = null
    where d.post_id = submit_post.post_id;
    perform app_private.request_post_publishing(post_id);
    return jsonb_build_object(
        'status', case when needs_approval then 'pending_approval' else 'scheduled' end,
        'post', app_private.post_snapshot(post_id));
end
$$;
revoke execute on function public.submit_post(uuid, uuid, timestamptz, text) from public, anon, authenticated;
grant execute on function public.submit_post(uuid, uuid, timestamptz, text) to service_role;

-- An owner or admin approves (the post is scheduled for its time, or now if that has passed)
-- or rejects it with a comment (it returns to draft). Returns {status: approved | rejected |
-- not_found | forbidden | not_pending, post}.
create function public.review_post(user_id uuid, post_id uuid, approve boolean, comment text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    refusal text := app_private.post_refusal(post_id, user_id, owners_only => true);
    post public.scheduled_posts;
begin
    if refusal is not null then
        return jsonb_build_object('status', refusal);
    end if;
    select p.* into post from public.scheduled_posts as p where p.id = post_id for update;
    if post.approval_status <> 'pending' then
        return jsonb_build_object('status', 'not_pending', 'post', app_private.post_snapshot(post_id));
    end if;
    update public.scheduled_posts as p
    set approval_status = case when approve then 'approved' else 'rejected' end::public.post_approval_status,
        reviewed_by = user_id, reviewed_at = now(), review_comment = comment
    where p.id = post_id;
    update public.post_destinations as d
    set status = case when approve then 'scheduled' else 'draft' end::public.post_destination_status,
        next_attempt_at = case when approve then greatest(post.scheduled_at, now()) end
    where d.post_id = review_post.post_id and d.status = 'pending_approval';
    perform app_private.request_post_publishing(post_id);
    return jsonb_build_object(
        'status', case when approve then 'approved' else 'rejected' end,
        'post', app_private.post_snapshot(post_id));
end
$$;
revoke execute on function public.review_post(uuid, uuid, boolean, text) from public, anon, authenticated;
grant execute on function public.review_post(uuid, uuid, boolean, text) to service_role;

-- Cancels what has not started publishing. Returns {status: canceled | not_found | forbidden |
-- nothing_to_cancel, post}.
create function public.cancel_post(user_id uuid, post_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    refusal text := app_private.post_refusal(post_id, user_id);
    canceled integer;
begin
    if refusal is not null then
        return jsonb_build_object('status', refusal);
    end if;
    with gone as (
        update public.post_destinations as d
        set status = 'canceled', next_attempt_at = null
        where d.post_id = cancel_post.post_id and d.status in ('draft', 'pending_approval', 'scheduled')
        returning d.id, d.team_id, d.attempts
    ), logged as (
        insert into public.publish_events (destination_id, post_id, team_id, attempt, event)
        select g.id, cancel_post.post_id, g.team_id, g.attempts, 'canceled' from gone as g
    )
    select count(*) into canceled from gone;
    return jsonb_build_object(
        'status', case when canceled > 0 then 'canceled' else 'nothing_to_cancel' end,
        'post', app_private.post_snapshot(post_id));
end
$$;
revoke execute on function public.cancel_post(uuid, uuid) from public, anon, authenticated;
grant execute on function public.cancel_post(uuid, uuid) to service_role;

-- Sends failed destinations (and, when the user confirms the post is not live, unconfirmed
-- ones) out again now. Idempotent: a second call finds nothing failed. Returns {status:
-- retrying | nothing_to_retry | not_found | forbidden, post}.
create function public.retry_post(user_id uuid, post_id uuid, include_unconfirmed boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    refusal text := app_private.post_refusal(post_id, user_id);
    retried integer;
begin
    if refusal is not null then
        return jsonb_build_object('status', refusal);
    end if;
    with again as (
        update public.post_destinations as d
        set status = 'scheduled', next_attempt_at = now(), attempts = 0, error_code = null, error_message = null
        where d.post_id = retry_post.post_id
          and (d.status = 'failed' or (include_unconfirmed and d.status = 'unconfirmed'))
        returning d.id, d.team_id
    ), logged as (
        insert into public.publish_events (destination_id, post_id, team_id, attempt, event)
        select a.id, retry_post.post_id, a.team_id, 0, 'retry_requested' from again as a
    )
    select count(*) into retried from again;
    perform app_private.request_post_publishing(post_id);
    return jsonb_build_object(
        'status', case when retried > 0 then 'retrying' else 'nothing_to_retry' end,
        'post', app_private.post_snapshot(post_id));
end
$$;
revoke execute on function public.retry_post(uuid, uuid, boolean) from public, anon, authenticated;
grant execute on function public.retry_post(uuid, uuid, boolean) to service_role;

-- Hands out up to `batch_size` due destinations under a lease of `lease_seconds`: scheduled
-- ones whose time has come, and publishing ones whose dispatcher's lease expired. Rows another
-- dispatcher holds are skipped, never waited for. `ambiguous` is true when the expired attempt
-- had started its platform call. `only_post_id` limits the claim to one post (published now,
-- approved or retried).
create function app_private.claim_due_destinations(
    batch_size integer, lease_seconds integer, only_post_id uuid default null
)
returns table (
    destination_id uuid, post_id uuid, team_id uuid, connection_id uuid, platform public.social_platform,
    options jsonb, body text, media jsonb, attempts integer, lease_id uuid, ambiguous boolean,
    attempt_started_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
begin
    return query
    with due as (
        select d.id
        from public.post_destinations as d
        where (d.status = 'scheduled' and d.next_attempt_at <= now()
               or d.status = 'publishing' and d.lease_expires_at < now())
          and (only_post_id is null or d.post_id = only_post_id)
        order by coalesce(d.next_attempt_at, d.lease_expires_at)
        limit batch_size
        for update skip locked
    ), claimed as (
        update public.post_destinations as d
        set status = 'publishing', lease_id = gen_random_uuid(),
            lease_expires_at = now() + make_interval(secs => lease_seconds), next_attempt_at = null
        from due
        where d.id = due.id
        returning d.id, d.post_id, d.team_id, d.connection_id, d.options, d.attempts, d.lease_id,
                  d.attempt_started_at is not null as ambiguous, d.attempt_started_at
    )
    select c.id, c.post_id, c.team_id, c.connection_id, s.platform, c.options, p.body, p.media, c.attempts,
           c.lease_id, c.ambiguous, c.attempt_started_at
    from claimed as c
    join public.scheduled_posts as p on p.id = c.post_id
    join public.social_connections as s on s.id = c.connection_id;
end
$$;
revoke execute on function app_private.claim_due_destinations(integer, integer, uuid) from public;

-- Records that the irreversible platform call of the next attempt is about to start (durably:
-- before the call). Returns the attempt number, or null when the lease was lost.
create function public.begin_publish_attempt(destination_id uuid, lease_id uuid, request_id text)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    destination public.post_destinations;
begin
    update public.post_destinations as d
    set attempts = d.attempts + 1, attempt_started_at = now()
    where d.id = destination_id and d.lease_id = begin_publish_attempt.lease_id and d.status = 'publishing'
    returning d.* into destination;
    if destination is null then
        return null;
    end if;
    insert into public.publish_events (destination_id, post_id, team_id, attempt, event, request_id)
    values (destination.id, destination.post_id, destination.team_id, destination.attempts, 'attempt_started',
            request_id);
    return destination.attempts;
end
$$;
revoke execute on function public.begin_publish_attempt(uuid, uuid, text) from public, anon, authenticated;
grant execute on function public.begin_publish_attempt(uuid, uuid, text) to service_role;

-- Records an attempt's outcome under the lease:
--   published       – live at the platform (external id, permalink);
--   found_existing  – an ambiguous attempt was found live at the platform;
--   retry           – proven not posted (429, 5xx before acceptance, refused connection):
--                     scheduled again in `retry_in_ms`, or failed once `max_attempts` are spent;
--   failed          – the platform refused for good, or the connection needs re-authorization;
--   unconfirmed     – the outcome cannot be known (timeout, ambiguous answer, no lookup):
--                     the user decides, nothing is reposted automatically.
-- Returns the destination's new status, or null when the lease was lost.
create function public.finish_publish_attempt(
    destination_id uuid, lease_id uuid, outcome text, request_id text default null,
    platform_status integer default null, external_id text default null, permalink text default null,
    error_code text default null, error_message text default null, duration_ms integer default null,
    retry_in_ms integer default null, max_attempts integer default 5)
returns public.post_destination_status
language plpgsql
security definer
set search_path = ''
as $$
declare
    destination public.post_destinations;
    next_status public.post_destination_status;
    event text := outcome;
begin
    if outcome not in ('published', 'found_existing', 'retry', 'failed', 'unconfirmed') then
        raise exception 'unknown outcome %', outcome using errcode = '22023';
    end if;
    select d.* into destination from public.post_destinations as d
    where d.id = destination_id and d.lease_id = finish_publish_attempt.lease_id and d.status = 'publishing'
    for update;
    if destination is null then
        return null;
    end if;
    next_status := case outcome
        when 'published' then 'published'
        when 'found_existing' then 'published'
        when 'retry' then case when destination.attempts >= max_attempts then 'failed' else 'scheduled' end
        else outcome
    end::public.post_destination_status;
    if outcome = 'retry' then
        event := case when next_status = 'failed' then 'failed' else 'retry_scheduled' end;
    end if;
    update public.post_destinations as d
    set status = next_status, lease_id = null, lease_expires_at = null, attempt_started_at = null,
        next_attempt_at = case when next_status = 'scheduled'
                               then now() + make_interval(secs => coalesce(retry_in_ms, 0) / 1000.0) end,
        external_id = coalesce(finish_publish_attempt.external_id, d.external_id),
        permalink = coalesce(finish_publish_attempt.permalink, d.permalink),
        published_at = case when next_status = 'published' then now() end,
        error_code = case when next_status = 'published' then null
                          when outcome = 'retry' and next_status = 'failed' then 'retries_exhausted'
                          else finish_publish_attempt.error_code end,
        error_message = case when next_status = 'published' then null else finish_publish_attempt.error_message end
    where d.id = destination.id;
    insert into public.publish_events (destination_id, post_id, team_id, attempt, event, request_id,
        platform_status, external_id, permalink, error_code, error_message, duration_ms)
    values (destination.id, destination.post_id, destination.team_id, destination.attempts, event, request_id,
        platform_status, finish_publish_attempt.external_id, finish_publish_attempt.permalink,
        finish_publish_attempt.error_code, finish_publish_attempt.error_message, duration_ms);
    return next_status;
end
$$;
revoke execute on function public.finish_publish_attempt(uuid, uuid, text, text, integer, text, text, text,
    text, integer, integer, integer)
    from public, anon, authenticated;
grant execute on function public.finish_publish_attempt(uuid, uuid, text, text, integer, text, text, text,
    text, integer, integer, integer)
    to service_role;

-- A platform's posting cap per account (e.g. Instagram: 50 API posts in 24 hours): 0 when one
-- more post may go to `connection_id` now, else the seconds until the oldest attempt within the
-- window leaves it. Checked before the platform call, so a busy account waits instead of being
-- refused.
create function public.publishing_slot(connection_id uuid, max_posts integer, window_seconds integer)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce((
        select ceil(extract(epoch from min(recent.created_at) + make_interval(secs => window_seconds) - now()))::integer
        from (
            select e.created_at
            from public.publish_events as e
            join public.post_destinations as d on d.id = e.destination_id
            where d.connection_id = publishing_slot.connection_id and e.event = 'attempt_started'
              and e.created_at > now() - make_interval(secs => window_seconds)
            order by e.created_at desc
            limit max_posts
        ) as recent
        having count(*) >= max_posts), 0)
$$;
revoke execute on function public.publishing_slot(uuid, integer, integer) from public, anon, authenticated;
grant execute on function public.publishing_slot(uuid, integer, integer) to service_role;

-- One JSON array (not a set of rows): PostgREST-compatible servers differ in how they send sets.
-- Each destination carries its connection as the worker reads it, saving a read per destination.
create function public.claim_due_destinations(batch_size integer, lease_seconds integer, only_post_id uuid default null)
returns jsonb language sql security definer set search_path = ''
as $$
    select coalesce(jsonb_agg(to_jsonb(c)
               || jsonb_build_object('connection', app_private.social_connection_for_worker(s))), '[]')
    from app_private.claim_due_destinations(batch_size, lease_seconds, only_post_id) as c
    join public.social_connections as s on s.id = c.connection_id
$$;
revoke execute on function public.claim_due_destinations(integer, integer, uuid)
    from public, anon, authenticated;
grant execute on function public.claim_due_destinations(integer, integer, uuid) to service_role;

-- Every minute pg_cron asks the worker to publish what is due, only when something is (the
-- worker checks the secret; see app_private.request_worker).
create function app_private.request_publishing()
returns bigint
language sql
security definer
set search_path = ''
as $$
    select app_private.request_worker('/v1/cron/publish')
    where exists (
        select from public.post_destinations as d
        where d.status = 'scheduled' and d.next_attempt_at <= now()
           or d.status = 'publishing' and d.lease_expires_at < now())
$$;
revoke execute on function app_private.request_publishing() from public;

-- A post that is due now (published now, approved, retried) is published at once: pg_net calls
-- the worker for that post alone when the transaction commits. Through pg_net rather than after
-- the worker's response, because the request stays open as long as the work takes, while
-- Cloudflare stops work after a response within 30 s, too soon for a video's processing.
create function app_private.request_post_publishing(post_id uuid)
returns bigint
language sql
security definer
set search_path = ''
as $$
    select app_private.request_worker('/v1/cron/publish?post_id=' || post_id)
    where exists (
        select from public.post_destinations as d
        where d.post_id = request_post_publishing.post_id and d.status = 'scheduled' and d.next_attempt_at <= now())
$$;
revoke execute on function app_private.request_post_publishing(uuid) from public;

select cron.schedule('publish-due-posts', '* * * * *', 'select app_private.request_publishing()');
