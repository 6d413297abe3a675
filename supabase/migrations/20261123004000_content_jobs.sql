-- Content jobs: a brief run through a chain of AI steps (draft → refine → image prompt → image →
-- moderation, or a chain the client names) after the worker has answered 202, with a snapshot
-- of every step; campaign batches of up to 100 posts, one job each; generated images in the
-- private Storage bucket `generated-assets`, recorded in `assets`.
--
-- Survival: every job is a row whose state and next step live here. An executor claims a job
-- with a lease (`FOR UPDATE SKIP LOCKED`, lease_owner + lease_expires_at), runs one step at a
-- time and writes the step's snapshot, its credit settlement and the move to the next step in
-- one transaction (finish_content_job_step). An executor that dies leaves a lease that
-- expires; pg_cron asks the worker every minute to sweep (POST /v1/cron/jobs/sweep), which
-- claims queued jobs and expired leases and resumes each at its first unfinished step.
--
-- The worker is the only writer: the RPCs below are executable by the service role only and
-- take the user id the worker verified. Clients read jobs, steps, batches and assets through
-- PostgREST with RLS (the job's team, or its owner for a personal job).
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

create type public.content_job_state as enum ('queued', 'running', 'done', 'failed', 'canceled');
create type public.content_step_kind as enum ('draft', 'refine', 'reconcile', 'image_prompt', 'image', 'moderation');
create type public.content_step_status as enum ('running', 'succeeded', 'failed');

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('generated-assets', 'generated-assets', false, 20 * 1024 * 1024,
        array['image/png', 'image/jpeg', 'image/webp', 'image/gif'])
on conflict (id) do update
set public = excluded.public, file_size_limit = excluded.file_size_limit,
    allowed_mime_types = excluded.allowed_mime_types;

create table public.content_batches (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    campaign_id uuid not null,
    created_by uuid references auth.users (id) on delete set null,
    -- At most this many of the batch's jobs run at once, whichever executors run them.
    concurrency integer not null check (concurrency between 1 and 20),
    total integer not null check (total between 1 and 100),
    completed integer not null default 0 check (completed >= 0),
    failed integer not null default 0 check (failed >= 0),
    canceled integer not null default 0 check (canceled >= 0),
    state text not null default 'running' check (state in ('running', 'done')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz,
    check (completed + failed + canceled <= total),
    foreign key (team_id, campaign_id) references public.campaigns (team_id, id) on delete cascade
);
comment on table public.content_batches is
    'Campaign generation runs: one content job per post; counters kept by a trigger on content_jobs.';
create index content_batches_campaign_id_created_at_idx on public.content_batches (campaign_id, created_at desc);

create table public.content_jobs (
    id uuid primary key default gen_random_uuid(),
    -- Who submitted the job; their (or the team's) credits pay for it.
    user_id uuid not null references auth.users (id) on delete cascade,
    -- Null for a personal job.
    team_id uuid references public.teams (id) on delete cascade,
    campaign_id uuid,
    persona_id uuid,
    batch_id uuid references public.content_batches (id) on delete cascade,
    batch_index integer check (batch_index >= 0),
    idempotency_key text check (char_length(idempotency_key) between 1 and 255),
    -- SHA-256 of the validated request, to tell a replay from a different request with the same key.
    request_hash text,
    -- The brief as validated, plus `context` (the campaign and persona as they were).
    brief jsonb not null check (jsonb_typeof(brief) = 'object'),
    -- [{kind, provider, model, instructions}], as validated by the worker.
    chain jsonb not null check (jsonb_typeof(chain) = 'array'),
    steps_total integer not null check (steps_total between 1 and 12),
    state public.content_job_state not null default 'queued',
    -- The next step to run; equals steps_total once done.
    current_step integer not null default 0 check (current_step between 0 and steps_total),
    attempts integer not null default 0,
    lease_owner uuid,
    lease_expires_at timestamptz,
    error_code text,
    error_message text,
    failed_step integer,
    -- What the chain produced: {text, imagePrompt, moderation}.
    result jsonb,
    draft_id uuid references public.content_drafts (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    check ((batch_id is null) = (batch_index is null)),
    check (team_id is not null or (campaign_id is null and persona_id is null and batch_id is null)),
    foreign key (team_id, campaign_id) references public.campaigns (team_id, id) on delete set null (campaign_id),
    foreign key (team_id, persona_id) references public.personas (team_id, id) on delete set null (persona_id)
);
comment on table public.content_jobs is
    'AI content jobs: a brief, its model chain, the state and the next step; steps in content_job_steps.';
create unique index content_jobs_idempotency_idx
    on public.content_jobs (user_id, coalesce(team_id, '00000000-0000-0000-0000-000000000000'::uuid), idempotency_key)
    where idempotency_key is not null;
create index content_jobs_team_id_created_at_idx on public.content_jobs (team_id, created_at desc);
create index content_jobs_user_id_created_at_idx on public.content_jobs (user_id, created_at desc);
create index content_jobs_batch_id_idx on public.content_jobs (batch_id, batch_index);
-- What executors claim: queued jobs and running ones whose lease may have expired.
create index content_jobs_claimable_idx on public.content_jobs (created_at) where state in ('queued', 'running');

-- One row per step run: the snapshot of what went in and came out, and what it cost.
create table public.content_job_steps (
    job_id uuid not null references public.content_jobs (id) on delete cascade,
    step_index integer not null check (step_index >= 0),
    -- Copied from the job for the read policy.
    user_id uuid not null,
    team_id uuid,
    kind public.content_step_kind not null,
    provider public.ai_provider,
    model text,
    status public.content_step_status not null,
    attempt integer not null default 1,
    input jsonb not null,
    output jsonb,
    ai_request_id uuid,
    input_tokens integer,
    output_tokens integer,
    images integer,
    credits bigint,
    latency_ms integer,
    error_code text,
    error_message text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    primary key (job_id, step_index)
);
comment on table public.content_job_steps is
    'Snapshots of content job steps: input, output, provider, model, tokens, credits, latency.';

create table public.assets (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    team_id uuid references public.teams (id) on delete cascade,
    kind text not null check (kind in ('image')),
    bucket_id text not null default 'generated-assets',
    -- `<team id, or user id for a personal job>/<job id>/<step>-<n>.<ext>`.
    storage_path text not null unique check (char_length(storage_path) <= 1024),
    mime_type text not null check (mime_type ~ '^image/[a-z0-9.+-]+$'),
    size_bytes bigint not null check (size_bytes >= 0),
    width integer check (width > 0),
    height integer check (height > 0),
    job_id uuid references public.content_jobs (id) on delete cascade,
    step_index integer,
    draft_id uuid references public.content_drafts (id) on delete set null,
    created_at timestamptz not null default now(),
    check (storage_path like coalesce(team_id, user_id)::text || '/_%')
);
comment on table public.assets is
    'Generated files (images) in Storage: bucket, path, MIME type, size, dimensions, source job and step.';
create index assets_job_id_idx on public.assets (job_id, step_index);
create index assets_team_id_created_at_idx on public.assets (team_id, created_at desc);
create index assets_draft_id_idx on public.assets (draft_id);

-- Deleting an asset row (or its job) queues its object for removal, as the library does.
create trigger queue_object_removal
    after delete on public.assets
    for each row execute function app_private.queue_object_removal('generated-assets', 'storage_path');

create trigger set_updated_at
    before update on public.content_jobs
    for each row execute function app_private.set_updated_at();
create trigger set_updated_at
    before update on public.content_batches
    for each row execute function app_private.set_updated_at();

-- Privileges: clients read under RLS; every write goes through the worker's RPCs.
alter table public.content_batches enable row level security;
alter table public.content_jobs enable row level security;
alter table public.content_job_steps enable row level security;
alter table public.assets enable row level security;
revoke all on public.content_batches, public.content_jobs, public.content_job_steps, public.assets
    from anon, authenticated;
-- Whole rows, so SDK clients can `select *`; the lease and idempotency columns reveal nothing
-- beyond the job itself.
grant select on public.content_batches, public.content_jobs, public.content_job_steps, public.assets
    to authenticated;
grant select, insert, update, delete on public.content_batches, public.content_jobs,
    public.content_job_steps, public.assets to service_role;

create policy "Members read their team's batches"
    on public.content_batches for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));
create policy "Members read their team's jobs, owners their personal ones"
    on public.content_jobs for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[])
        or (team_id is null and user_id = (select auth.uid())));
create policy "Members read their team's job steps, owners their personal ones"
    on public.content_job_steps for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[])
        or (team_id is null and user_id = (select auth.uid())));
create policy "Members read their team's assets, owners their personal ones"
    on public.assets for select to authenticated
    using (team_id = any ((select app_private.user_team_ids())::uuid[])
        or (team_id is null and user_id = (select auth.uid())));

-- Storage runs these as the requesting user: the first folder is the team (or the user).
create policy "Members read their generated assets"
    on storage.objects for select to authenticated
    using (bucket_id = 'generated-assets'
        and ((storage.foldername(name))[1] = any ((select app_private.user_team_ids())::text[])
            or (storage.foldername(name))[1] = (select auth.uid())::text));

-- Batch counters follow their jobs' states (a retried job leaves `failed` again).
create function app_private.count_batch_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    delta_completed integer := (new.state = 'done')::integer - (old.state = 'done')::integer;
    delta_failed integer := (new.state = 'failed')::integer - (old.state = 'failed')::integer;
    delta_canceled integer := (new.state = 'canceled')::integer - (old.state = 'canceled')::integer;
begin
    if delta_completed = 0 and delta_failed = 0 and delta_canceled = 0 then
        return null;
    end if;
    update public.content_batches as b
    set completed = b.completed + delta_completed, failed = b.failed + delta_failed,
        canceled = b.canceled + delta_canceled,
        state = case when b.completed + delta_completed + b.failed + delta_failed + b.canceled + delta_canceled
                          = b.total then 'done' else 'running' end,
        finished_at = case when b.completed + delta_completed + b.failed + delta_failed + b.canceled + delta_canceled
                                = b.total then now() end
    where b.id = new.batch_id;
    return null;
end
$$;
revoke execute on function app_private.count_batch_job() from public;

create trigger count_batch_job
    after update of state on public.content_jobs
    for each row when (new.batch_id is not null and new.state is distinct from old.state)
    execute function app_private.count_batch_job();

-- Whether the user may see a job: its team's member, or its owner for a personal job.
create function app_private.can_read_content_job(job public.content_jobs, reader uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select case when job.team_id is null then job.user_id = reader
                else exists (select from public.team_members as m
                             where m.team_id = job.team_id and m.user_id = reader) end
$$;
revoke execute on function app_private.can_read_content_job(public.content_jobs, uuid) from public;

-- The brief's context as it is now: the campaign's and persona's fields a prompt uses.
create function app_private.content_context(team_id uuid, campaign_id uuid, persona_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'campaign', (select jsonb_strip_nulls(jsonb_build_object('name', c.name, 'description', c.description,
                        'brandName', c.brand_name, 'targetAudience', c.target_audience, 'tone', c.tone))
                     from public.campaigns as c
                     where c.team_id = content_context.team_id and c.id = content_context.campaign_id),
        'persona', (select jsonb_strip_nulls(jsonb_build_object('name', p.name, 'demographics', p.demographics,
                        'psychographics', p.psychographics, 'initialBeliefs', p.initial_beliefs))
                    from public.personas as p
                    where p.team_id = content_context.team_id and p.id = content_context.persona_id)))
$$;
revoke execute on function app_private.content_context(uuid, uuid, uuid) from public;

-- Creates a queued job, or returns the one created earlier with the same idempotency key.
-- Returns {status: created | existing | idempotency_conflict | not_team_member | invalid (field)}.
create function public.create_content_job(
    user_id uuid,
    brief jsonb,
    chain jsonb,
    team_id uuid default null,
    campaign_id uuid default null,
    persona_id uuid default null,
    idempotency_key text default null,
    request_hash text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    job public.content_jobs;
begin
    if team_id is not null and not exists (
        select from public.team_members as m
        where m.team_id = create_content_job.team_id and m.user_id = create_content_job.user_id
    ) then
        return jsonb_build_object('status', 'not_team_member');
    end if;
    if campaign_id is not null and not exists (
        select from public.campaigns as c
        where c.team_id = create_content_job.team_id and c.id = campaign_id and c.deleted_at is null
    ) then
        return jsonb_build_object('status', 'invalid', 'field', 'campaignId');
    end if;
    if persona_id is not null and not exists (
        select from public.personas as p where p.team_id = create_content_job.team_id and p.id = persona_id
    ) then
        return jsonb_build_object('status', 'invalid', 'field', 'personaId');
    end if;

    insert into public.content_jobs (user_id, team_id, campaign_id, persona_id, idempotency_key, request_hash,
        brief, chain, steps_total)
    values (user_id, team_id, campaign_id, persona_id, idempotency_key, request_hash,
        brief || jsonb_build_object('context', app_private.content_context(team_id, campaign_id, persona_id)),
        chain, jsonb_array_length(chain))
    on conflict do nothing
    returning * into job;
    if job.id is not null then
        return jsonb_build_object('status', 'created', 'job_id', job.id, 'state', job.state);
    end if;

    select j.* into job from public.content_jobs as j
    where j.user_id = create_content_job.user_id
      and coalesce(j.team_id, '00000000-0000-0000-0000-000000000000') = coalesce(create_content_job.team_id, '00000000-0000-0000-0000-000000000000')
      and j.idempotency_key = create_content_job.idempotency_key;
    if job.request_hash is distinct from request_hash then
        return jsonb_build_object('status', 'idempotency_conflict', 'job_id', job.id);
    end if;
    return jsonb_build_object('status', 'existing', 'job_id', job.id, 'state', job.state);
end
$$;
revoke execute on function public.create_content_job(uuid, jsonb, jsonb, uuid, uuid, uuid, text, text)
    from public, anon, authenticated;
grant execute on function public.create_content_job(uuid, jsonb, jsonb, uuid, uuid, uuid, text, text)
    to service_role;

-- A batch of posts for a campaign: one queued job per post, all in one transaction.
-- `posts` is [{brief, chain, persona_id?}]. Returns {status: created | not_found | not_team_member
-- | invalid (field)}.
create function public.create_content_batch(user_id uuid, campaign_id uuid, concurrency integer, posts jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    campaign public.campaigns;
    batch public.content_batches;
    bad_index integer;
begin
    select c.* into campaign from public.campaigns as c where c.id = campaign_id and c.deleted_at is null;
    if campaign.id is null or not exists (
        select from public.team_members as m where m.team_id = campaign.team_id and m.user_id = create_content_batch.user_id
    ) then
        -- Not visible to the caller: the same answer as a campaign that does not exist.
        return jsonb_build_object('status', 'not_found');
    end if;
    select p.ordinality - 1 into bad_index
    from jsonb_array_elements(posts) with ordinality as p
    where p.value ->> 'persona_id' is not null and not exists (
        select from public.personas as pe where pe.team_id = campaign.team_id and pe.id::text = p.value ->> 'persona_id')
    order by p.ordinality limit 1;
    if bad_index is not null then
        return jsonb_build_object('status', 'invalid', 'field', format('posts[%s].personaId', bad_index));
    end if;

    insert into public.content_batches (team_id, campaign_id, created_by, concurrency, total)
    values (campaign.team_id, campaign.id, user_id, concurrency, jsonb_array_length(posts))
    returning * into batch;
    insert into public.content_jobs (user_id, team_id, campaign_id, persona_id, batch_id, batch_index, brief, chain,
        steps_total)
    select user_id, campaign.team_id, campaign.id, (p.value ->> 'persona_id')::uuid, batch.id, p.ordinality - 1,
        (p.value -> 'brief') || jsonb_build_object('context',
            app_private.content_context(campaign.team_id, campaign.id, (p.value ->> 'persona_id')::uuid)),
        p.value -> 'chain', jsonb_array_length(p.value -> 'chain')
    from jsonb_array_elements(posts) with ordinality as p;
    return jsonb_build_object('status', 'created', 'batch_id', batch.id);
end
$$;
revoke execute on function public.create_content_batch(uuid, uuid, integer, jsonb)
    from public, anon, authenticated;
grant execute on function public.create_content_batch(uuid, uuid, integer, jsonb) to service_role;

-- Claims up to max_jobs runnable jobs for executor worker_id: queued ones and running ones whose
-- lease expired, oldest first, optionally only job_id or only batch_id's. Locked rows (another
-- executor is claiming them) are skipped, and a batch never runs more than its concurrency at
-- once. Each claimed job comes with what its executor needs: the brief, the chain, the next
-- step and the outputs of the steps done. Returns a JSON array.
create function public.claim_content_jobs(
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
    candidate record;
    claimed jsonb := '[]';
    job public.content_jobs;
    batch_running integer;
    batch_cap integer;
begin
    for candidate in
        select j.id, j.batch_id from public.content_jobs as j
        where (j.state = 'queued' or (j.state = 'running' and j.lease_expires_at < now()))
          and (claim_content_jobs.job_id is null or j.id = claim_content_jobs.job_id)
          and (claim_content_jobs.batch_id is null or j.batch_id = claim_content_jobs.batch_id)
        order by j.created_at, j.batch_index
        limit 500
        for update skip locked
    loop
        exit when jsonb_array_length(claimed) >= max_jobs;
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
            attempts = j.attempts + 1, started_at = coalesce(j.started_at, now())
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
revoke execute on function public.claim_content_jobs(uuid, integer, integer, uuid, uuid)
    from public, anon, authenticated;
grant execute on function public.claim_content_jobs(uuid, integer, integer, uuid, uuid) to service_role;

-- Before a step runs: the executor still holds the job's lease and the step is the next one.
-- Records the step as running with its input and extends the lease. Returns
-- {status: started | lease_lost | canceled}.
create function public.start_content_job_step(
    job_id uuid, worker_id uuid, step_index integer, kind public.content_step_kind, input jsonb,
    lease_seconds integer, provider public.ai_provider default null, model text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    job public.content_jobs;
begin
    select j.* into job from public.content_jobs as j where j.id = job_id for update;
    if job.state = 'canceled' then
        return jsonb_build_object('status', 'canceled');
    end if;
    if job.state is distinct from 'running' or job.lease_owner is distinct from worker_id
        or job.current_step <> step_index then
        return jsonb_build_object('status', 'lease_lost');
    end if;
    update public.content_jobs as j set lease_expires_at = now() + make_interval(secs => lease_seconds)
    where j.id = job_id;
    insert into public.content_job_steps as s (job_id, step_index, user_id, team_id, kind, provider, model, status,
        input)
    values (job_id, step_index, job.user_id, job.team_id, kind, provider, model, 'running', input)
    on conflict on constraint content_job_steps_pkey do update
    set status = 'running', attempt = s.attempt + 1, input = excluded.input, provider = excluded.provider,
        model = excluded.model, output = null, ai_request_id = null, input_tokens = null, output_tokens = null,
        images = null, credits = null, latency_ms = null, error_code = null, error_message = null,
        started_at = now(), finished_at = null;
    return jsonb_build_object('status', 'started');
end
$$;
revoke execute on function public.start_content_job_step(uuid, uuid, integer, public.content_step_kind, jsonb,
    integer, public.ai_provider, text)
    from public, anon, authenticated;
grant execute on function public.start_content_job_step(uuid, uuid, integer, public.content_step_kind, jsonb,
    integer, public.ai_provider, text)
    to service_role;

-- After a step: in one transaction, settles (or releases) its AI request in the credit ledger,
-- writes its snapshot and assets, and moves the job to its next step, to `done` (with `result`)
-- after the last, or to `failed`. The settlement happens even if the executor lost the job
-- (the provider was paid); the snapshot only if it still holds it. Returns
-- {status: next | done | failed | canceled | lease_lost, credits}.
create function public.finish_content_job_step(
    job_id uuid, worker_id uuid, step_index integer, succeeded boolean, latency_ms integer, lease_seconds integer,
    output jsonb default null, ai_request_id uuid default null, provider public.ai_provider default null,
    model text default null, input_tokens integer default null, output_tokens integer default null,
    images integer default null, error_code text default null, error_message text default null,
    assets jsonb default null, result jsonb default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    job public.content_jobs;
    charged bigint;
    last boolean;
begin
    if ai_request_id is not null then
        if succeeded then
            perform public.settle_ai_credits(ai_request_id, model, coalesce(input_tokens, 0),
                coalesce(output_tokens, 0), coalesce(images, 0), latency_ms, null, provider);
        else
            perform public.release_ai_credits(ai_request_id, coalesce(error_code, 'failed'), latency_ms);
        end if;
        -- Snapshots are not metering: this transaction's commit waits for the WAL flush again.
        perform set_config('synchronous_commit', 'on', true);
        select r.credits into charged from public.ai_requests as r where r.id = ai_request_id;
    end if;

    select j.* into job from public.content_jobs as j where j.id = job_id for update;
    if job.lease_owner is distinct from worker_id or job.current_step <> step_index
        or job.state not in ('running', 'canceled') then
        return jsonb_build_object('status', 'lease_lost', 'credits', charged);
    end if;
    update public.content_job_steps as s
    set status = case when succeeded then 'succeeded' else 'failed' end::public.content_step_status,
        output = finish_content_job_step.output, ai_request_id = finish_content_job_step.ai_request_id,
        provider = coalesce(finish_content_job_step.provider, s.provider),
        model = coalesce(finish_content_job_step.model, s.model),
        input_tokens = finish_content_job_step.input_tokens, output_tokens = finish_content_job_step.output_tokens,
        images = finish_content_job_step.images, credits = coalesce(charged, 0),
        latency_ms = finish_content_job_step.latency_ms, error_code = finish_content_job_step.error_code,
        error_message = finish_content_job_step.error_message, finished_at = now()
    where s.job_id = finish_content_job_step.job_id and s.step_index = finish_content_job_step.step_index;
    if succeeded and assets is not null then
        insert into public.assets as a (user_id, team_id, kind, storage_path, mime_type, size_bytes, width, height,
            job_id, step_index)
        select job.user_id, job.team_id, 'image', x.value ->> 'storage_path', x.value ->> 'mime_type',
            (x.value ->> 'size_bytes')::bigint, (x.value ->> 'width')::integer, (x.value ->> 'height')::integer,
            job.id, step_index
        from jsonb_array_elements(assets) as x
        on conflict (storage_path) do update
        set mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, width = excluded.width,
            height = excluded.height, step_index = excluded.step_index;
    end if;
    if job.state = 'canceled' then
        return jsonb_build_object('status', 'canceled', 'credits', charged);
    end if;
    if not succeeded then
        update public.content_jobs as j
        set state = 'failed', error_code = finish_content_job_step.error_code,
            error_message = finish_content_job_step.error_message, failed_step = step_index,
            lease_owner = null, lease_expires_at = null, finished_at = now()
        where j.id = job_id;
        return jsonb_build_object('status', 'failed', 'credits', charged);
    end if;
    last := step_index + 1 = job.steps_total;
    update public.content_jobs as j
    set current_step = step_index + 1,
        state = case when last then 'done' else 'running' end::public.content_job_state,
        result = case when last then finish_content_job_step.result else j.result end,
        lease_owner = case when last then null else j.lease_owner end,
        lease_expires_at = case when last then null else now() + make_interval(secs => lease_seconds) end,
        finished_at = case when last then now() end
    where j.id = job_id;
    return jsonb_build_object('status', case when last then 'done' else 'next' end, 'credits', charged);
end
$$;
revoke execute on function public.finish_content_job_step(uuid, uuid, integer, boolean, integer, integer,
    jsonb, uuid, public.ai_provider, text, integer, integer, integer, text, text, jsonb, jsonb)
    from public, anon, authenticated;
grant execute on function public.finish_content_job_step(uuid, uuid, integer, boolean, integer, integer,
    jsonb, uuid, public.ai_provider, text, integer, integer, integer, text, text, jsonb, jsonb)
    to service_role;

-- The job, locked, if `user_id` may change it (cancel, retry): its submitter, or an owner/admin
-- of its team. `refusal` is `not_found` when the user cannot even read it, else `forbidden`.
create function app_private.content_job_to_change(user_id uuid, job_id uuid, out job public.content_jobs,
    out refusal text)
language plpgsql
security definer
set search_path = ''
as $$
begin
    select j.* into job from public.content_jobs as j where j.id = job_id for update;
    if job.id is null or not app_private.can_read_content_job(job, user_id) then
        refusal := 'not_found';
    elsif job.user_id <> user_id and not exists (
        select from public.team_members as m
        where m.team_id = job.team_id and m.user_id = content_job_to_change.user_id and m.role in ('owner', 'admin')
    ) then
        refusal := 'forbidden';
    end if;
end
$$;
revoke execute on function app_private.content_job_to_change(uuid, uuid) from public;

-- Cancels a queued or running job. A running step finishes and is recorded; no further step
-- starts. Returns {status: canceled | not_found | forbidden | conflict (state)}.
create function public.cancel_content_job(user_id uuid, job_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    found_job record := app_private.content_job_to_change(user_id, job_id);
begin
    if found_job.refusal is not null then
        return jsonb_build_object('status', found_job.refusal);
    end if;
    if (found_job.job).state not in ('queued', 'running') then
        return jsonb_build_object('status', 'conflict', 'state', (found_job.job).state);
    end if;
    update public.content_jobs as j
    set state = 'canceled', lease_expires_at = null, finished_at = now()
    where j.id = job_id;
    return jsonb_build_object('status', 'canceled');
end
$$;
revoke execute on function public.cancel_content_job(uuid, uuid) from public, anon, authenticated;
grant execute on function public.cancel_content_job(uuid, uuid) to service_role;

-- Queues a failed job again; it resumes at the step that failed. Same rights as cancelling.
-- Returns {status: queued | not_found | forbidden | conflict (state)}.
create function public.retry_content_job(user_id uuid, job_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    found_job record := app_private.content_job_to_change(user_id, job_id);
begin
    if found_job.refusal is not null then
        return jsonb_build_object('status', found_job.refusal);
    end if;
    if (found_job.job).state <> 'failed' then
        return jsonb_build_object('status', 'conflict', 'state', (found_job.job).state);
    end if;
    update public.content_jobs as j
    set state = 'queued', error_code = null, error_message = null, lease_owner = null, lease_expires_at = null,
        finished_at = null
    where j.id = job_id;
    return jsonb_build_object('status', 'queued');
end
$$;
revoke execute on function public.retry_content_job(uuid, uuid) from public, anon, authenticated;
grant execute on function public.retry_content_job(uuid, uuid) to service_role;

-- Turns a done team job into a content draft (one entry per platform: the final text, the
-- image prompt, and `media_type` image when it produced images, which are linked through
-- assets.draft_id). Once: a second call returns the same draft. Returns {status: created |
-- existing | not_found | conflict (reason), draft_id}.
create function public.create_draft_from_content_job(user_id uuid, job_id uuid, title text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    job public.content_jobs;
    has_images boolean;
    new_draft_id uuid;
begin
    select j.* into job from public.content_jobs as j where j.id = job_id for update;
    if job.id is null or not app_private.can_read_content_job(job, user_id) then
        return jsonb_build_object('status', 'not_found');
    end if;
    if job.draft_id is not null then
        return jsonb_build_object('status', 'existing', 'draft_id', job.draft_id);
    end if;
    if job.team_id is null then
        return jsonb_build_object('status', 'conflict', 'reason', 'a personal job has no team to hold a draft');
    end if;
    if job.state <> 'done' then
        return jsonb_build_object('status', 'conflict', 'reason', format('the job is %s, not done', job.state));
    end if;
    has_images := exists (select from public.assets as a where a.job_id = job.id);
    insert into public.content_drafts (team_id, campaign_id, persona_id, title, platform_contents, created_by)
    values (job.team_id, job.campaign_id, job.persona_id,
        coalesce(title, left(job.brief ->> 'prompt', 300)),
        (select coalesce(jsonb_object_agg(platform, jsonb_strip_nulls(jsonb_build_object(
            'content', job.result ->> 'text',
            'image_prompt', job.result ->> 'imagePrompt',
            'media_type', case when has_images then 'image' else 'text' end,
            'image_source', case when has_images then 'ai_generated' end))), '{}')
         from jsonb_array_elements_text(job.brief -> 'platforms') as platform),
        user_id)
    returning id into new_draft_id;
    update public.content_jobs as j set draft_id = new_draft_id where j.id = job.id;
    update public.assets as a set draft_id = new_draft_id where a.job_id = job.id;
    return jsonb_build_object('status', 'created', 'draft_id', new_draft_id);
end
$$;
revoke execute on function public.create_draft_from_content_job(uuid, uuid, text)
    from public, anon, authenticated;
grant execute on function public.create_draft_from_content_job(uuid, uuid, text) to service_role;

-- Every minute, pg_cron asks the worker to sweep (claim queued jobs and expired leases and run
-- them), only when there is something to claim (see app_private.request_worker).
create function app_private.request_content_jobs_sweep()
returns bigint
language sql
security definer
set search_path = ''
as $$
    select app_private.request_worker('/v1/cron/jobs/sweep')
    where exists (
        select from public.content_jobs as j
        where j.state = 'queued' or (j.state = 'running' and j.lease_expires_at < now()))
$$;
revoke execute on function app_private.request_content_jobs_sweep() from public;

select cron.schedule('content-jobs-sweep', '* * * * *', 'select app_private.request_content_jobs_sweep()');
