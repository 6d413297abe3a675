-- Storage paths and publishing, hardened (issue #17: H1, H3, M3, M4, M8, L8, L9).
--
-- 1. Every column naming a Storage object holds a plain relative path: `/`-separated segments,
--    none empty, `.` or `..`, and no `\`, `%`, `?`, `#` or control character
--    (app_private.is_safe_object_path, one rule for all of them). A URL built from such a path
--    cannot leave its folder, however the URL is normalized.
-- 2. A library file's size and MIME type come from Storage's own record of the object
--    (storage.objects.metadata), kept in step by triggers, never from the client.
-- 3. What was checked is what is submitted: the worker reads a post for its checks together
--    with a fingerprint of its content, destinations and media objects, and submit_post refuses
--    when the fingerprint no longer matches (`changed`).
-- 4. What was submitted is what goes out: submit_post snapshots each media object (id, version,
--    ETag, size); a dispatcher's claim says when the objects changed since, and the destination
--    fails `media_changed` instead of publishing other bytes.
-- 5. A destination (or content job) whose dispatcher (executor) died three times without an
--    outcome fails with `dispatch_crashed` (`executor_crashed`) instead of being handed out
--    forever; a dispatcher renews its lease during long uploads.
-- 6. `client_post_id` values starting with `job:` are the worker's (posts made from content
--    jobs): clients cannot take them.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

-- 1. Safe object paths ---------------------------------------------------------------------

create function app_private.is_safe_object_path(path text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
    select path is not null
        and octet_length(path) between 1 and 1024
        and path !~ '[\\%?#[:cntrl:]]'
        and not exists (
            select from pg_catalog.unnest(pg_catalog.string_to_array(path, '/')) as segment
            where segment in ('', '.', '..'))
$$;
comment on function app_private.is_safe_object_path(text) is
    'Whether a Storage object name is a plain relative path: non-empty segments other than . and .., no \ % ? # or control characters, at most 1024 bytes.';
revoke execute on function app_private.is_safe_object_path(text) from public;
-- Check constraints run it as the writing role.
grant execute on function app_private.is_safe_object_path(text) to authenticated, service_role;

alter table public.content_library_assets
    add constraint content_library_assets_object_path_safe
    check (app_private.is_safe_object_path(object_path)) not valid;
alter table public.content_library_assets validate constraint content_library_assets_object_path_safe;
alter table public.chat_messages
    add constraint chat_messages_attachment_path_safe
    check (attachment_path is null or app_private.is_safe_object_path(attachment_path)) not valid;
alter table public.chat_messages validate constraint chat_messages_attachment_path_safe;
alter table public.assets
    add constraint assets_storage_path_safe
    check (app_private.is_safe_object_path(storage_path)) not valid;
alter table public.assets validate constraint assets_storage_path_safe;

-- 2. Library sizes and types from Storage ------------------------------------------------

-- Before a library row is written: its size is what Storage recorded for the object (null
-- until the file is uploaded), its type too once the object exists.
create function app_private.take_library_object_facts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    size_text text;
    mime text;
begin
    select o.metadata ->> 'size', pg_catalog.lower(pg_catalog.split_part(o.metadata ->> 'mimetype', ';', 1))
    into size_text, mime
    from storage.objects as o
    where o.bucket_id = 'library' and o.name = new.object_path;
    new.size_bytes := case when size_text ~ '^[0-9]{1,18}$' then size_text::bigint end;
    if mime ~ '^(image|video)/[a-z0-9.+-]+$' then
        new.mime_type := mime;
    elsif tg_op = 'UPDATE' then
        new.mime_type := old.mime_type;
    end if;
    return new;
end
$$;
revoke execute on function app_private.take_library_object_facts() from public;
create trigger take_object_facts before insert or update on public.content_library_assets
    for each row execute function app_private.take_library_object_facts();
revoke update (size_bytes, mime_type) on public.content_library_assets from authenticated;

-- After Storage writes, replaces, moves or removes a library object: its rows take the new facts.
create function app_private.sync_library_object_facts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.content_library_assets as a
    set size_bytes = null
    where a.object_path in (
        select changed.name from (values (old.bucket_id, old.name), (new.bucket_id, new.name)) as changed (bucket_id, name)
        where changed.bucket_id = 'library');
    return null;
end
$$;
revoke execute on function app_private.sync_library_object_facts() from public;
create trigger sync_library_object_facts after insert or update or delete on storage.objects
    for each row execute function app_private.sync_library_object_facts();

update public.content_library_assets set size_bytes = null;

-- 3. and 4. Media objects and post fingerprints -------------------------------------------

-- The Storage objects a post's media items name, in order: {bucket, path, mimeType,
-- sizeBytes, objectId, version, eTag}, or null for an item naming nothing of the post's team
-- or a file not uploaded. Sizes and versions are Storage's own.
create function app_private.post_media_objects(post_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(
        case when o.id is not null then jsonb_build_object(
            'bucket', r.bucket, 'path', r.path, 'mimeType', r.mime_type,
            'sizeBytes', case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end,
            'objectId', o.id, 'version', o.version, 'eTag', o.metadata ->> 'eTag') end
        order by item.position), '[]')
    from public.scheduled_posts as p
    cross join lateral jsonb_array_elements(p.media) with ordinality as item (value, position)
    cross join lateral (
        select case when item.value ->> 'libraryAssetId' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                    then (item.value ->> 'libraryAssetId')::uuid end as library_id,
               case when item.value ->> 'assetId' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                    then (item.value ->> 'assetId')::uuid end as asset_id
    ) as ids
    left join lateral (
        select 'library' as bucket, a.object_path as path, a.mime_type
        from public.content_library_assets as a
        where a.id = ids.library_id and a.team_id = p.team_id
        union all
        select g.bucket_id, g.storage_path, g.mime_type
        from public.assets as g
        where g.id = ids.asset_id and g.team_id = p.team_id and ids.library_id is null
        limit 1
    ) as r on true
    left join storage.objects as o on o.bucket_id = r.bucket and o.name = r.path
    where p.id = post_media_objects.post_id
$$;
revoke execute on function app_private.post_media_objects(uuid) from public;

-- What the worker checks before submitting a post: its text, media objects and destinations
-- (with their options), hashed. Any change in between makes submit_post refuse.
create function app_private.post_fingerprint(post_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
    select md5(jsonb_build_array(
        p.body, p.media, app_private.post_media_objects(p.id),
        (select coalesce(jsonb_agg(jsonb_build_array(d.id, d.connection_id, d.options) order by d.id), '[]')
         from public.post_destinations as d where d.post_id = p.id))::text)
    from public.scheduled_posts as p
    where p.id = post_fingerprint.post_id
$$;
revoke execute on function app_private.post_fingerprint(uuid) from public;

-- Service role: a post as the worker checks it before submitting it for `user_id` (a member of
-- its team), read in one snapshot with its fingerprint: {status: ok | not_found, teamId, body,
-- media (as post_media_objects), destinations [{connectionId, platform, accountStatus,
-- options}], fingerprint}.
create function public.post_for_submission(user_id uuid, post_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce((
        select jsonb_build_object(
            'status', 'ok', 'teamId', p.team_id, 'body', p.body,
            'media', app_private.post_media_objects(p.id),
            'destinations', coalesce((
                select jsonb_agg(jsonb_build_object(
                    'connectionId', d.connection_id, 'platform', c.platform, 'accountStatus', c.status,
                    'options', d.options) order by d.created_at, d.id)
                from public.post_destinations as d
                join public.social_connections as c on c.id = d.connection_id
                where d.post_id = p.id), '[]'),
            'fingerprint', app_private.post_fingerprint(p.id))
        from public.scheduled_posts as p
        where p.id = post_for_submission.post_id
          and app_private.post_role(p.id, post_for_submission.user_id) is not null),
        jsonb_build_object('status', 'not_found'))
$$;
revoke execute on function public.post_for_submission(uuid, uuid) from public, anon, authenticated;
grant execute on function public.post_for_submission(uuid, uuid) to service_role;

-- The media objects as they were when the post was submitted; what may go out.
alter table public.scheduled_posts add column submitted_media jsonb;
update public.scheduled_posts as p
set submitted_media = app_private.post_media_objects(p.id)
where exists (select from public.post_destinations as d where d.post_id = p.id and d.status <> 'draft');

drop function public.submit_post(uuid, uuid, timestamptz, text);

-- Submits a draft for publishing at `scheduled_at` (now or later), or moves a scheduled post to
-- another time, when the post still has the fingerprint the worker checked. Plain members of a
-- team that requires approval submit for review instead. A draft's media objects are
-- snapshotted: the dispatcher refuses to publish other bytes. Returns {status: scheduled |
-- pending_approval | not_found | forbidden | not_editable | no_destinations | changed, post}.
create function public.submit_post(
    user_id uuid, post_id uuid, scheduled_at timestamptz, timezone text, fingerprint text
)
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
    if not (states = array['draft']::public.post_destination_status[]
            or states = array['scheduled']::public.post_destination_status[]) then
        return jsonb_build_object('status', 'not_editable', 'post', app_private.post_snapshot(post_id));
    end if;
    if app_private.post_fingerprint(post_id) is distinct from fingerprint then
        return jsonb_build_object('status', 'changed', 'post', app_private.post_snapshot(post_id));
    end if;
    needs_approval := role = 'member' and post.approval_status <> 'approved'
        and (select t.requires_post_approval from public.teams as t where t.id = post.team_id);

    update public.scheduled_posts as p
    set scheduled_at = submit_post.scheduled_at, timezone = submit_post.timezone,
        approval_status = case when needs_approval then 'pending'
                               when p.approval_status = 'approved' then 'approved'
                               else 'not_required' end::public.post_approval_status,
        -- A move to another time keeps what was submitted (and approved).
        submitted_media = case when states = array['draft']::public.post_destination_status[]
                               then app_private.post_media_objects(p.id) else p.submitted_media end
    where p.id = post_id;
    update public.post_destinations as d
    set status = case when needs_approval then 'pending_approval' else 'scheduled' end::public.post_destination_status,
        next_attempt_at = case when needs_approval then null else submit_post.scheduled_at end,
        error_code = null, error_message = null
    where d.post_id = submit_post.post_id and d.status = any (states);
    perform app_private.request_post_publishing(post_id);
    return jsonb_build_object(
        'status', case when needs_approval then 'pending_approval' else 'scheduled' end,
        'post', app_private.post_snapshot(post_id));
end
$$;
revoke execute on function public.submit_post(uuid, uuid, timestamptz, text, text) from public, anon, authenticated;
grant execute on function public.submit_post(uuid, uuid, timestamptz, text, text) to service_role;

-- 5. Claims that never end ---------------------------------------------------------------

-- Dispatchers of a destination that vanished (their lease expired) since its last outcome.
alter table public.post_destinations add column crashed_claims integer not null default 0;

-- Hands out up to `batch_size` due destinations under a lease of `lease_seconds`: scheduled
-- ones whose time has come, and publishing ones whose dispatcher's lease expired. Rows another
-- dispatcher holds are skipped, never waited for. `ambiguous` is true when the expired attempt
-- had started its platform call. `only_post_id` limits the claim to one post (published now,
-- approved or retried). A destination whose dispatchers vanished three times is not handed out
-- again: it fails with `dispatch_crashed` (`unconfirmed` when a platform call had started). Each
-- destination carries the media objects submitted with its post and whether they changed since.
drop function app_private.claim_due_destinations(integer, integer, uuid);
create function app_private.claim_due_destinations(
    batch_size integer, lease_seconds integer, only_post_id uuid default null
)
returns table (
    destination_id uuid, post_id uuid, team_id uuid, connection_id uuid, platform public.social_platform,
    options jsonb, body text, media jsonb, media_changed boolean, attempts integer, lease_id uuid,
    ambiguous boolean, attempt_started_at timestamptz
)
language plpgsql
security definer
set search_path = ''
as $$
declare
    max_crashed_claims constant integer := 3;
begin
    return query
    with due as (
        select d.id, d.status = 'publishing' and d.crashed_claims + 1 >= max_crashed_claims as crashed
        from public.post_destinations as d
        where (d.status = 'scheduled' and d.next_attempt_at <= now()
               or d.status = 'publishing' and d.lease_expires_at < now())
          and (only_post_id is null or d.post_id = only_post_id)
        order by coalesce(d.next_attempt_at, d.lease_expires_at)
        limit batch_size
        for update skip locked
    ), given_up as (
        update public.post_destinations as d
        set status = case when d.attempt_started_at is null then 'failed' else 'unconfirmed' end
                ::public.post_destination_status,
            lease_id = null, lease_expires_at = null, attempt_started_at = null, next_attempt_at = null,
            crashed_claims = 0, error_code = 'dispatch_crashed',
            error_message = 'Publishing stopped ' || max_crashed_claims || ' times without an outcome'
                || case when d.attempt_started_at is null then '; nothing was posted.'
                        else '; check the account, then retry with includeUnconfirmed if the post is missing.' end
        from due
        where d.id = due.id and due.crashed
        returning d.id, d.post_id, d.team_id, d.attempts, d.status, d.error_code, d.error_message
    ), logged as (
        insert into public.publish_events (destination_id, post_id, team_id, attempt, event, error_code, error_message)
        select g.id, g.post_id, g.team_id, g.attempts, g.status::text, g.error_code, g.error_message from given_up as g
    ), claimed as (
        update public.post_destinations as d
        set crashed_claims = case when d.status = 'publishing' then d.crashed_claims + 1 else 0 end,
            status = 'publishing', lease_id = gen_random_uuid(),
            lease_expires_at = now() + make_interval(secs => lease_seconds), next_attempt_at = null
        from due
        where d.id = due.id and not due.crashed
        returning d.id, d.post_id, d.team_id, d.connection_id, d.options, d.attempts, d.lease_id,
                  d.attempt_started_at is not null as ambiguous, d.attempt_started_at
    )
    select c.id, c.post_id, c.team_id, c.connection_id, s.platform, c.options, p.body,
           coalesce(p.submitted_media, '[]'),
           app_private.post_media_objects(p.id) is distinct from coalesce(p.submitted_media, '[]'),
           c.attempts, c.lease_id, c.ambiguous, c.attempt_started_at
    from claimed as c
    join public.scheduled_posts as p on p.id = c.post_id
    join public.social_connections as s on s.id = c.connection_id;
end
$$;
revoke execute on function app_private.claim_due_destinations(integer, integer, uuid) from public;

-- An outcome ends a run of crashed claims.
create function app_private.reset_crashed_claims()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.crashed_claims := 0;
    return new;
end
$$;
revoke execute on function app_private.reset_crashed_claims() from public;
create trigger reset_crashed_claims before update of status on public.post_destinations
    for each row when (old.status = 'publishing' and new.status <> 'publishing')
    execute function app_private.reset_crashed_claims();

-- Service role: extends a dispatcher's lease (long uploads); false when it was lost.
create function public.renew_publish_lease(destination_id uuid, lease_id uuid, lease_seconds integer)
returns boolean
language sql
security definer
set search_path = ''
as $$
    with renewed as (
        update public.post_destinations as d
        set lease_expires_at = now() + make_interval(secs => lease_seconds)
        where d.id = renew_publish_lease.destination_id and d.lease_id = renew_publish_lease.lease_id
          and d.status = 'publishing'
        returning 1
    )
    select exists (select from renewed)
$$;
revoke execute on function public.renew_publish_lease(uuid, uuid, integer) from public, anon, authenticated;
grant execute on function public.renew_publish_lease(uuid, uuid, integer) to service_role;

-- The same cap for content jobs: claims of a job at the same step whose executor vanished.
alter table public.content_jobs add column claim_step integer, add column crashed_claims integer not null default 0;

create or replace function public.claim_content_jobs(
    worker_id uuid,
    max_jobs integer,
    lease_seconds integer,
    job_id uuid default null,
    batch_id uuid default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    max_crashed_claims constant integer := 3;
    candidate record;
    claimed jsonb := '[]';
    job public.content_jobs;
    batch_running integer;
    batch_cap integer;
begin
    for candidate in
        select j.id, j.batch_id,
               j.state = 'running' and j.claim_step = j.current_step as crashed_here, j.crashed_claims
        from public.content_jobs as j
        where (j.state = 'queued' or (j.state = 'running' and j.lease_expires_at < now()))
          and (claim_content_jobs.job_id is null or j.id = claim_content_jobs.job_id)
          and (claim_content_jobs.batch_id is null or j.batch_id = claim_content_jobs.batch_id)
        order by j.created_at, j.batch_index
        limit 500
        for update skip locked
    loop
        exit when jsonb_array_length(claimed) >= max_jobs;
        if candidate.crashed_here and candidate.crashed_claims + 1 >= max_crashed_claims then
            -- Its executor vanished at this step again and again: stop, and say so.
            update public.content_jobs as j
            set state = 'failed', error_code = 'executor_crashed',
                error_message = 'The job stopped ' || max_crashed_claims || ' times at step ' || j.current_step
                    || ' without finishing it; retry the job to run that step again.',
                failed_step = j.current_step, lease_owner = null, lease_expires_at = null, finished_at = now(),
                crashed_claims = 0
            where j.id = candidate.id;
            continue;
        end if;
        if candidate.batch_id is not null then
            -- Serialises claims within one batch, so the cap holds across executors.
            select b.concurrency into batch_cap from public.content_batches as b
            where b.id = candidate.batch_id for update;
            select count(*) into batch_running from public.content_jobs as j
            where j.batch_id = candidate.batch_id and j.state = 'running' and j.lease_expires_at >= now();
            continue when batch_running >= batch_cap;
        end if;
        update public.content_jobs as j
        set state = 'running', lease_owner = worker_id, lease_expires_at = now() + make_interval(secs => lease_seconds),
            attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()),
            crashed_claims = case when candidate.crashed_here then j.crashed_claims + 1 else 0 end,
            claim_step = j.current_step
        where j.id = candidate.id
        returning j.* into job;
        claimed := claimed || jsonb_build_array(jsonb_build_object(
            'id', job.id, 'user_id', job.user_id, 'team_id', job.team_id, 'brief', job.brief, 'chain', job.chain,
            'current_step', job.current_step,
            'outputs', coalesce((select jsonb_agg(s.output order by s.step_index) from public.content_job_steps as s
                                 where s.job_id = job.id and s.step_index < job.current_step), '[]')));
    end loop;
    return claimed;
end
$$;
revoke execute on function public.claim_content_jobs(uuid, integer, integer, uuid, uuid) from public, anon, authenticated;
grant execute on function public.claim_content_jobs(uuid, integer, integer, uuid, uuid) to service_role;

-- 6. The worker's idempotency keys --------------------------------------------------------

create policy "Client post ids starting with job: are the worker's"
    on public.scheduled_posts as restrictive for insert to authenticated
    with check (client_post_id is null or client_post_id not like 'job:%');
