-- Background work no longer starved by the interactive rate window (issue #26).
--
-- An AI reservation now names its pacing, and each pacing has its own per-user window of one
-- minute, sized by the plan: `interactive` (chat, assistants, /v1/ai/*: `requests_per_minute`,
-- window `ai_request` as before), `background` (content job and batch steps:
-- `background_requests_per_minute`, window `ai_background`) and `publishing` (the moderation
-- that schedule and publish run: `publishing_checks_per_minute`, window `ai_publishing`).
-- Credits still apply to all three. Only a granted reservation counts in its window: a
-- refusal (rate limited, over the credits, a model not allowed) leaves the window as it was.
-- The reservation answers the window's state, for the `RateLimit` headers of AI answers.
--
-- A job step refused by its window, or by its provider's 429, waits instead of failing: the
-- job goes back to `queued` with `run_after` (the window's end, or the provider's Retry-After),
-- its step `waiting`, and the sweep pg_cron requests every minute claims it once that time has
-- come. A batch whose posts all failed ends `failed`, some failed `partial`; its failed posts
-- can be queued again at once (`retry_content_batch`).

-- ---------------------------------------------------------------------------------------------
-- Windows per pacing.
alter table public.ai_plans
    add column background_requests_per_minute integer not null default 30
        check (background_requests_per_minute > 0),
    add column publishing_checks_per_minute integer not null default 30
        check (publishing_checks_per_minute > 0);
comment on table public.ai_plans is
    'AI plans: monthly credit allowance, and per-user AI requests per minute for interactive calls, '
    'background (content job) steps and the moderation of posts being scheduled or published.';
update public.ai_plans set background_requests_per_minute = 120, publishing_checks_per_minute = 120
where plan = 'pro';
update public.ai_plans set background_requests_per_minute = 300, publishing_checks_per_minute = 300
where plan = 'team';

-- Counts one `action` of `subject` in the current fixed window of `window_length` unless the
-- window already holds `per_window` (then nothing changes): whether it was counted, what the
-- window has left after it, and the whole seconds until the window ends (at least 1). One
-- conditional upsert of a single row, so concurrent callers never count past the limit; the
-- count is part of the caller's transaction.
create function app_private.take_window_slot(
    subject uuid, action text, per_window integer, window_length interval,
    out admitted boolean, out remaining integer, out reset_seconds integer
)
language plpgsql
security definer
set search_path = ''
as $$
declare
    this_window timestamptz := date_bin(window_length, now(), timestamptz '2000-01-01 00:00:00+00');
    counted integer;
begin
    insert into app_private.rate_windows as w (subject, action, window_start, count)
    values (subject, action, this_window, 1)
    on conflict on constraint rate_windows_pkey do update
        set window_start = this_window,
            count = case when w.window_start = this_window then w.count + 1 else 1 end
        where w.window_start <> this_window or w.count < per_window
    returning w.count into counted;
    admitted := found;
    remaining := case when admitted then greatest(per_window - counted, 0) else 0 end;
    reset_seconds := greatest(ceil(extract(epoch from this_window + window_length - now()))::integer, 1);
end
$$;
revoke execute on function app_private.take_window_slot(uuid, text, integer, interval) from public;

-- The seconds until the window ends when it is full, else 0 (counted): take_window_slot's answer
-- as take_rate_limit reads it.
create or replace function app_private.count_in_window(
    subject uuid, action text, per_window integer, window_length interval
)
returns integer
language sql
security definer
set search_path = ''
as $$
    select case when slot.admitted then 0 else slot.reset_seconds end
    from app_private.take_window_slot(subject, action, per_window, window_length) as slot
$$;

-- The reservation, now also naming its `pacing` (`interactive`, `background` or `publishing`),
-- whose window it counts in, only once everything else granted it. `reserved` and
-- `rate_limited` answers carry `window` {limit, remaining, reset, length}: the requests the
-- window allows, what it has left, the seconds until it ends, and its length in seconds.
drop function public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid,
    public.ai_provider, text, boolean);

create function public.reserve_ai_credits(
    user_id uuid, endpoint text, capability text, default_provider public.ai_provider,
    estimated_input_tokens integer, estimated_output_tokens integer, estimated_images integer,
    team_id uuid default null, requested_provider public.ai_provider default null,
    requested_model text default null, platform_only boolean default false, pacing text default 'interactive'
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    subject uuid := coalesce(team_id, user_id);
    current_period date := app_private.ai_current_period();
    resets_at timestamptz := (current_period + interval '1 month') at time zone 'utc';
    window_action text;
    per_minute integer;
    slot record;
    subject_plan_name text;
    subject_plan public.ai_plans;
    subject_log_prompts boolean;
    config public.ai_provider_configs;
    own_key boolean;
    chosen_provider public.ai_provider;
    chosen_model text;
    estimate bigint;
    ledger public.ai_credit_ledger;
    request_id uuid;
begin
    perform app_private.ai_metering_commit();
    if capability not in ('text', 'image', 'chat') then
        raise exception 'unknown capability %', capability using errcode = '22023';
    end if;
    if pacing not in ('interactive', 'background', 'publishing') then
        raise exception 'unknown pacing %', pacing using errcode = '22023';
    end if;
    if requested_model is not null and not app_private.is_valid_ai_model(requested_model) then
        raise exception 'invalid model name' using errcode = '22023';
    end if;
    if reserve_ai_credits.team_id is not null and not exists (
        select from public.team_members as m
        where m.team_id = reserve_ai_credits.team_id and m.user_id = reserve_ai_credits.user_id
    ) then
        return jsonb_build_object('status', 'not_team_member');
    end if;

    select s.plan, s.log_prompts into subject_plan_name, subject_log_prompts
    from public.ai_subjects as s where s.subject_id = subject;
    select p.* into subject_plan from public.ai_plans as p where p.plan = coalesce(subject_plan_name, 'free');
    subject_log_prompts := coalesce(subject_log_prompts, false);
    window_action := case pacing when 'interactive' then 'ai_request' when 'background' then 'ai_background'
                                 else 'ai_publishing' end;
    per_minute := case pacing when 'interactive' then subject_plan.requests_per_minute
                              when 'background' then subject_plan.background_requests_per_minute
                              else subject_plan.publishing_checks_per_minute end;

    if not platform_only then
        select c.* into config
        from public.ai_provider_configs as c
        where c.subject_id = subject and c.is_active and c.enabled
          and (requested_provider is null or c.provider = requested_provider);
    end if;
    chosen_provider := coalesce(requested_provider, config.provider, default_provider);
    own_key := config.encrypted_api_key is not null;
    chosen_model := coalesce(requested_model, case capability
        when 'text' then config.text_model when 'image' then config.image_model else config.chat_model end);
    -- A null model is the worker's default for the provider, which is priced.
    if not own_key and chosen_model is not null and not app_private.ai_model_priced(chosen_provider, chosen_model) then
        insert into public.ai_requests (user_id, subject_id, period, endpoint, provider, model, status, error_code)
        values (reserve_ai_credits.user_id, subject, current_period, endpoint, chosen_provider, chosen_model,
                'rejected', 'model_not_allowed');
        return jsonb_build_object('status', 'model_not_allowed', 'provider', chosen_provider, 'model', chosen_model);
    end if;
    estimate := app_private.ai_credits_for(
        chosen_provider, chosen_model, estimated_input_tokens, estimated_output_tokens, estimated_images);

    insert into public.ai_credit_ledger (subject_id, period, allowance)
    values (subject, current_period, subject_plan.monthly_credits)
    on conflict do nothing;
    -- The window's slot and the credits are taken together: a reservation the credits refuse
    -- gives its slot back (the block's subtransaction rolls it back).
    begin
        select * into slot
        from app_private.take_window_slot(reserve_ai_credits.user_id, window_action, per_minute, interval '1 minute');
        if not slot.admitted then
            insert into public.ai_requests (user_id, subject_id, period, endpoint, status, error_code)
            values (reserve_ai_credits.user_id, subject, current_period, endpoint, 'rejected', 'rate_limited');
            return jsonb_build_object('status', 'rate_limited', 'retry_after', slot.reset_seconds,
                'window', jsonb_build_object('limit', per_minute, 'remaining', 0, 'reset', slot.reset_seconds,
                    'length', 60));
        end if;
        update public.ai_credit_ledger as l
        set reserved = l.reserved + estimate, updated_at = now()
        where l.subject_id = subject and l.period = current_period
          and l.used + l.reserved + estimate <= l.allowance
        returning l.* into ledger;
        if not found then
            raise exception 'over the allowance' using errcode = 'PR402';
        end if;
    exception when sqlstate 'PR402' then
        select l.* into ledger from public.ai_credit_ledger as l
        where l.subject_id = subject and l.period = current_period;
        insert into public.ai_requests (user_id, subject_id, period, endpoint, provider, model, status, error_code)
        values (reserve_ai_credits.user_id, subject, current_period, endpoint, chosen_provider, chosen_model,
                'rejected', 'credit_limit_reached');
        return jsonb_build_object(
            'status', 'credit_limit_reached',
            'needed', estimate,
            'remaining', greatest(ledger.allowance - ledger.used - ledger.reserved, 0),
            'limit', ledger.allowance,
            'resets_at', resets_at);
    end;

    insert into public.ai_requests (user_id, subject_id, period, endpoint, provider, model, status, reserved_credits)
    values (reserve_ai_credits.user_id, subject, current_period, endpoint, chosen_provider, chosen_model, 'reserved', estimate)
    returning id into request_id;

    return jsonb_build_object(
        'status', 'reserved',
        'request_id', request_id,
        'config_id', case when own_key then config.id end,
        'provider', chosen_provider,
        'model', chosen_model,
        'base_url', case when own_key then config.base_url end,
        'encrypted_api_key', case when own_key then config.encrypted_api_key end,
        'api_key_version', case when own_key then config.api_key_version end,
        'log_prompts', subject_log_prompts,
        'reserved', estimate,
        'remaining', ledger.allowance - ledger.used - ledger.reserved,
        'limit', ledger.allowance,
        'resets_at', resets_at,
        'window', jsonb_build_object('limit', per_minute, 'remaining', slot.remaining, 'reset', slot.reset_seconds,
            'length', 60));
end
$$;
revoke execute on function
    public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid,
        public.ai_provider, text, boolean, text)
from public, anon, authenticated;
grant execute on function
    public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid,
        public.ai_provider, text, boolean, text)
to service_role;

-- ---------------------------------------------------------------------------------------------
-- Jobs that wait: `run_after` (not claimed before), why (`wait_reason`: `rate_limited` for the
-- background window, `provider_rate_limited` for the provider's 429), and how many times the
-- provider refused the job since it was last queued by a client (a provider that keeps
-- refusing, e.g. an exhausted quota, fails the job after max_provider_waits).
alter type public.content_step_status add value 'waiting';
alter table public.content_jobs
    add column run_after timestamptz,
    add column wait_reason text check (wait_reason in ('rate_limited', 'provider_rate_limited')),
    add column provider_waits integer not null default 0 check (provider_waits >= 0);
comment on column public.content_jobs.run_after is 'While the job waits for a rate limit: not claimed before this time.';
comment on column public.content_jobs.wait_reason is
    'Why the job waits: rate_limited (the background AI window) or provider_rate_limited (the provider''s 429).';
comment on column public.content_jobs.provider_waits is
    'Times the provider refused the job as rate limited since a client last queued it; it fails at 10.';

-- The executor's step was refused by its window or its provider: the job waits `seconds`, then
-- resumes at that step. Releases the step's reservation (`ai_request_id`, when the provider
-- refused it) and marks the step `waiting`. Returns {status: waiting (run_after) | failed (the
-- provider refused too often) | canceled | lease_lost}.
create function public.defer_content_job(
    job_id uuid, worker_id uuid, step_index integer, reason text, seconds integer,
    ai_request_id uuid default null, latency_ms integer default 0
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    max_provider_waits constant integer := 10;
    job public.content_jobs;
    gives_up boolean;
begin
    if reason not in ('rate_limited', 'provider_rate_limited') then
        raise exception 'unknown wait reason %', reason using errcode = '22023';
    end if;
    if ai_request_id is not null then
        perform public.release_ai_credits(ai_request_id, reason, latency_ms);
    end if;
    select j.* into job from public.content_jobs as j where j.id = job_id for update;
    if job.state = 'canceled' then
        return jsonb_build_object('status', 'canceled');
    end if;
    if job.state is distinct from 'running' or job.lease_owner is distinct from worker_id
        or job.current_step <> step_index then
        return jsonb_build_object('status', 'lease_lost');
    end if;
    gives_up := reason = 'provider_rate_limited' and job.provider_waits + 1 >= max_provider_waits;
    update public.content_job_steps as s
    set status = case when gives_up then 'failed' else 'waiting' end::public.content_step_status,
        ai_request_id = defer_content_job.ai_request_id, error_code = reason, finished_at = now(),
        latency_ms = defer_content_job.latency_ms,
        error_message = case when gives_up then 'The provider kept refusing this step as rate limited.'
                             else 'Rate limited; the step runs again once the limit allows.' end
    where s.job_id = defer_content_job.job_id and s.step_index = defer_content_job.step_index;
    if gives_up then
        update public.content_jobs as j
        set state = 'failed', error_code = reason,
            error_message = 'The provider refused step ' || step_index || ' as rate limited '
                || max_provider_waits || ' times; retry the job later.',
            failed_step = step_index, lease_owner = null, lease_expires_at = null, run_after = null,
            wait_reason = null, finished_at = now()
        where j.id = job_id;
        return jsonb_build_object('status', 'failed');
    end if;
    update public.content_jobs as j
    set state = 'queued', lease_owner = null, lease_expires_at = null,
        run_after = now() + make_interval(secs => greatest(seconds, 1)), wait_reason = reason,
        provider_waits = j.provider_waits + (reason = 'provider_rate_limited')::integer
    where j.id = job_id
    returning j.* into job;
    return jsonb_build_object('status', 'waiting', 'run_after', job.run_after);
end
$$;
revoke execute on function public.defer_content_job(uuid, uuid, integer, text, integer, uuid, integer)
    from public, anon, authenticated;
grant execute on function public.defer_content_job(uuid, uuid, integer, text, integer, uuid, integer)
    to service_role;

-- What an executor may claim now: a queued job whose wait (if any) is over, or a running one
-- whose lease expired.
create function app_private.content_job_claimable(job public.content_jobs)
returns boolean
language sql
stable
as $$
    select (job.state = 'queued' and (job.run_after is null or job.run_after <= now()))
        or (job.state = 'running' and job.lease_expires_at < now())
$$;
revoke execute on function app_private.content_job_claimable(public.content_jobs) from public;

-- Claims as before, leaving waiting jobs until their `run_after`.
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
        where app_private.content_job_claimable(j)
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
            claim_step = j.current_step, run_after = null, wait_reason = null
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

create or replace function app_private.request_content_jobs_sweep()
returns bigint
language sql
security definer
set search_path = ''
as $$
    select app_private.request_worker('/v1/cron/jobs/sweep')
    where exists (
        select from public.content_jobs as j
        where app_private.content_job_claimable(j))
$$;

-- A job queued again starts at once through pg_net, unless it carries a `run_after`: a waiting
-- job is the minute sweep's, and a batch retry makes one call for all its jobs.
drop trigger content_jobs_request_requeued on public.content_jobs;
create trigger content_jobs_request_requeued
after update of state on public.content_jobs
for each row when (new.state = 'queued' and old.state <> 'queued' and new.run_after is null)
execute function app_private.request_requeued_content_job();

-- Queues failed jobs again at the step that failed, with a fresh count of provider refusals.
-- `run_after` as request_requeued_content_job reads it (null: each starts through pg_net).
create function app_private.requeue_failed_content_jobs(job_ids uuid[], run_after timestamptz)
returns integer
language sql
security definer
set search_path = ''
as $$
    with requeued as (
        update public.content_jobs as j
        set state = 'queued', error_code = null, error_message = null, lease_owner = null,
            lease_expires_at = null, finished_at = null, provider_waits = 0,
            run_after = requeue_failed_content_jobs.run_after, wait_reason = null
        where j.id = any (job_ids) and j.state = 'failed'
        returning 1
    )
    select count(*)::integer from requeued
$$;
revoke execute on function app_private.requeue_failed_content_jobs(uuid[], timestamptz) from public;

create or replace function public.retry_content_job(user_id uuid, job_id uuid)
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
    perform app_private.requeue_failed_content_jobs(array[job_id], null);
    return jsonb_build_object('status', 'queued');
end
$$;

-- Queues a batch's failed posts again, each at the step that failed, and has pg_net start the
-- batch's lanes once. Rights: the batch's creator, or an owner or admin of its team. Returns
-- {status: queued (retried) | not_found | forbidden | conflict (state)}.
create function public.retry_content_batch(user_id uuid, batch_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    batch public.content_batches;
    retried integer;
begin
    select b.* into batch from public.content_batches as b where b.id = batch_id for update;
    if batch.id is null or not exists (
        select from public.team_members as m where m.team_id = batch.team_id and m.user_id = retry_content_batch.user_id
    ) then
        return jsonb_build_object('status', 'not_found');
    end if;
    if batch.created_by is distinct from user_id and not exists (
        select from public.team_members as m
        where m.team_id = batch.team_id and m.user_id = retry_content_batch.user_id and m.role in ('owner', 'admin')
    ) then
        return jsonb_build_object('status', 'forbidden');
    end if;
    retried := app_private.requeue_failed_content_jobs(
        array(select j.id from public.content_jobs as j where j.batch_id = batch.id and j.state = 'failed'), now());
    if retried = 0 then
        return jsonb_build_object('status', 'conflict', 'state', batch.state);
    end if;
    perform app_private.request_worker(app_private.content_job_run_path(null, batch.id));
    return jsonb_build_object('status', 'queued', 'retried', retried);
end
$$;
revoke execute on function public.retry_content_batch(uuid, uuid) from public, anon, authenticated;
grant execute on function public.retry_content_batch(uuid, uuid) to service_role;

-- ---------------------------------------------------------------------------------------------
-- Batch states: `running` until every post is finished, then `done` (none failed), `failed`
-- (none completed, some failed) or `partial` (some of each).
alter table public.content_batches drop constraint content_batches_state_check;
alter table public.content_batches
    add constraint content_batches_state_check check (state in ('running', 'done', 'partial', 'failed'));

create function app_private.content_batch_state(total integer, completed integer, failed integer, canceled integer)
returns text
language sql
immutable
as $$
    select case when completed + failed + canceled < total then 'running'
                when failed = 0 then 'done'
                when completed = 0 then 'failed'
                else 'partial' end
$$;
revoke execute on function app_private.content_batch_state(integer, integer, integer, integer) from public;

update public.content_batches as b
set state = app_private.content_batch_state(b.total, b.completed, b.failed, b.canceled)
where b.state = 'done' and b.failed > 0;

create or replace function app_private.count_batch_job()
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
        state = app_private.content_batch_state(b.total, b.completed + delta_completed, b.failed + delta_failed,
            b.canceled + delta_canceled),
        finished_at = case when b.completed + delta_completed + b.failed + delta_failed + b.canceled + delta_canceled
                                = b.total then now() end
    where b.id = new.batch_id;
    return null;
end
$$;
