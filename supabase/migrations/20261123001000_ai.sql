-- The AI proxy's data: provider configurations (bring-your-own keys), plans and monthly credit
-- allowances, the credit ledger, the per-user rate window and the request log.
--
-- The worker is the only client of the credit RPCs: it calls the public wrappers with the
-- service role key and passes the user id it verified from the caller's token. Keys are
-- encrypted by the worker (AES-256-GCM, the row id as associated data); the database never
-- sees a key in clear and no API role can read the encrypted column back.

create type public.ai_provider as enum ('openai', 'xai', 'gemini', 'openai_compatible');
create type public.ai_request_status as enum ('reserved', 'succeeded', 'failed', 'rejected', 'expired');

-- Plans: the monthly allowance and the per-user request rate. Edit rows to change a plan.
create table public.ai_plans (
    plan text primary key check (plan ~ '^[a-z0-9_-]{1,40}$'),
    monthly_credits bigint not null check (monthly_credits >= 0),
    requests_per_minute integer not null check (requests_per_minute > 0)
);
comment on table public.ai_plans is 'AI plans: monthly credit allowance and per-user requests per minute.';
insert into public.ai_plans (plan, monthly_credits, requests_per_minute) values
    ('free', 200, 10), ('pro', 5000, 60), ('team', 20000, 120);

-- Who is on which plan (a user or a team, both identified by uuid); absent means `free`.
-- Also the team's opt-in to keep prompt text in ai_requests. Written by billing (service role).
create table public.ai_subjects (
    subject_id uuid primary key,
    plan text not null default 'free' references public.ai_plans (plan),
    log_prompts boolean not null default false
);
comment on table public.ai_subjects is 'The AI plan of a user or team, and whether prompts are logged (opt-in).';

-- Credits per call = ceil(per_request + input/1000·input_per_1k + output/1000·output_per_1k
-- + images·per_image). `model = '*'` prices every model of the provider without its own row.
create table public.ai_model_prices (
    provider public.ai_provider not null,
    model text not null,
    credits_per_request numeric not null default 0 check (credits_per_request >= 0),
    input_credits_per_1k numeric not null default 0 check (input_credits_per_1k >= 0),
    output_credits_per_1k numeric not null default 0 check (output_credits_per_1k >= 0),
    credits_per_image numeric not null default 0 check (credits_per_image >= 0),
    primary key (provider, model)
);
comment on table public.ai_model_prices is 'How many credits a call costs, per provider and model (model * = default).';
insert into public.ai_model_prices (provider, model, input_credits_per_1k, output_credits_per_1k, credits_per_image)
select provider, '*', 0.5, 1.5, 10 from unnest(enum_range(null::public.ai_provider)) as provider;

create table public.ai_provider_configs (
    id uuid primary key,
    user_id uuid references auth.users (id) on delete cascade,
    team_id uuid references public.teams (id) on delete cascade,
    subject_id uuid not null generated always as (coalesce(team_id, user_id)) stored,
    provider public.ai_provider not null,
    -- base64(nonce ‖ ciphertext ‖ tag), written only by the worker; never granted to API roles.
    encrypted_api_key text,
    api_key_version text,
    has_api_key boolean not null generated always as (encrypted_api_key is not null) stored,
    enabled boolean not null default true,
    text_model text check (char_length(text_model) between 1 and 200),
    image_model text check (char_length(image_model) between 1 and 200),
    chat_model text check (char_length(chat_model) between 1 and 200),
    base_url text check (base_url ~ '^https?://' and char_length(base_url) <= 500),
    is_active boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (num_nonnulls(user_id, team_id) = 1),
    check ((encrypted_api_key is null) = (api_key_version is null)),
    check (provider <> 'openai_compatible' or base_url is not null),
    unique (subject_id, provider)
);
comment on table public.ai_provider_configs is 'AI provider settings of a user or team; keys are written through the worker and never readable.';
-- One active provider per subject.
create unique index ai_provider_configs_one_active_idx on public.ai_provider_configs (subject_id) where is_active;
create index ai_provider_configs_team_id_idx on public.ai_provider_configs (team_id);

create trigger set_updated_at
    before update on public.ai_provider_configs
    for each row execute function app_private.set_updated_at();

-- One row per subject and calendar month (UTC); created by the first reservation of the month,
-- so a new month needs no job. `reserved` holds in-flight estimates until settled or released.
create table public.ai_credit_ledger (
    subject_id uuid not null,
    period date not null check (period = date_trunc('month', period)),
    allowance bigint not null check (allowance >= 0),
    used bigint not null default 0 check (used >= 0),
    reserved bigint not null default 0 check (reserved >= 0),
    updated_at timestamptz not null default now(),
    primary key (subject_id, period)
);
comment on table public.ai_credit_ledger is 'Monthly AI credits per user or team: allowance, used and reserved.';

-- Every AI call: its reservation while in flight, then its outcome. Prompt text only when the
-- subject opted in.
create table public.ai_requests (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    subject_id uuid not null,
    period date not null,
    endpoint text not null,
    provider public.ai_provider,
    model text,
    status public.ai_request_status not null,
    reserved_credits bigint not null default 0,
    input_tokens integer,
    output_tokens integer,
    images integer,
    credits bigint,
    latency_ms integer,
    error_code text,
    prompt text,
    created_at timestamptz not null default now(),
    settled_at timestamptz
);
comment on table public.ai_requests is 'Log of AI calls: who, provider, model, tokens, credits, latency, status.';
create index ai_requests_user_id_created_at_idx on public.ai_requests (user_id, created_at desc);
create index ai_requests_subject_id_created_at_idx on public.ai_requests (subject_id, created_at desc);
-- The reset job finds stale reservations through this.
create index ai_requests_reserved_idx on public.ai_requests (created_at) where status = 'reserved';

-- Fixed one-minute windows per user; the count includes refused attempts.
create table app_private.ai_rate_windows (
    user_id uuid primary key,
    window_start timestamptz not null,
    requests integer not null
);

-- Monthly reset runs, so a repeated call for the same month is recognised.
create table app_private.ai_credit_resets (
    period date primary key,
    ran_at timestamptz not null default now()
);

-- Privileges. Clients read; every write goes through the worker (service role).
alter table public.ai_plans enable row level security;
alter table public.ai_subjects enable row level security;
alter table public.ai_model_prices enable row level security;
alter table public.ai_provider_configs enable row level security;
alter table public.ai_credit_ledger enable row level security;
alter table public.ai_requests enable row level security;
revoke all on public.ai_plans, public.ai_subjects, public.ai_model_prices, public.ai_provider_configs,
    public.ai_credit_ledger, public.ai_requests from anon, authenticated;
grant select on public.ai_plans, public.ai_subjects, public.ai_model_prices, public.ai_credit_ledger,
    public.ai_requests to authenticated;
-- Every column but the key material.
grant select (id, user_id, team_id, subject_id, provider, has_api_key, enabled, text_model, image_model,
    chat_model, base_url, is_active, created_at, updated_at) on public.ai_provider_configs to authenticated;
grant select, insert, update, delete on public.ai_plans, public.ai_subjects, public.ai_model_prices,
    public.ai_provider_configs, public.ai_credit_ledger, public.ai_requests to service_role;

create policy "Signed-in users can read the plans"
    on public.ai_plans for select to authenticated using (true);

create policy "Signed-in users can read the prices"
    on public.ai_model_prices for select to authenticated using (true);

create policy "Users can read their own and their teams' plans"
    on public.ai_subjects for select to authenticated
    using (subject_id = (select auth.uid()) or subject_id = any ((select app_private.user_team_ids())::uuid[]));

create policy "Users can read their own and their teams' provider configs"
    on public.ai_provider_configs for select to authenticated
    using (user_id = (select auth.uid()) or team_id = any ((select app_private.user_team_ids())::uuid[]));

create policy "Users can read their own and their teams' credits"
    on public.ai_credit_ledger for select to authenticated
    using (subject_id = (select auth.uid()) or subject_id = any ((select app_private.user_team_ids())::uuid[]));

create policy "Users can read their own AI requests"
    on public.ai_requests for select to authenticated
    using (user_id = (select auth.uid()));

-- The metering functions below are PL/pgSQL even where one SQL statement would do: a SQL
-- function with a `set` clause is never inlined and plans its statement on every call, while
-- PL/pgSQL keeps its plans for the session. On the reserve/settle path that is a third of the
-- database time.

-- The current credit period: the calendar month in UTC.
create function app_private.ai_current_period()
returns date
language plpgsql
stable
set search_path = ''
as $$
begin
    return date_trunc('month', now() at time zone 'utc')::date;
end
$$;

create function app_private.ai_credits_for(
    provider public.ai_provider, model text, input_tokens bigint, output_tokens bigint, images bigint
)
returns bigint
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select ceil(p.credits_per_request + input_tokens / 1000.0 * p.input_credits_per_1k
                    + output_tokens / 1000.0 * p.output_credits_per_1k + images * p.credits_per_image)::bigint
        from public.ai_model_prices as p
        where p.provider = ai_credits_for.provider and p.model in (ai_credits_for.model, '*')
        order by p.model = '*'
        limit 1);
end
$$;

-- Metering commits asynchronously (for the rest of the calling transaction): a provider call
-- then waits for neither a reservation's nor a settlement's WAL flush, which on slow disks is
-- most of an RPC's time. The trade-off, accepted for metering: a database crash can forget the
-- last moments (3 × wal_writer_delay) of reservations and settlements, never half of one.
create function app_private.ai_metering_commit()
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform set_config('synchronous_commit', 'off', true);
end
$$;
revoke execute on function app_private.ai_metering_commit() from public;

-- The metering and configuration RPCs below are the worker's (service role only). Every
-- nullable parameter defaults to null (so it comes last) and the worker leaves null arguments
-- out, since PostgREST-compatible servers differ in how they bind a JSON null.

-- One round trip before a provider call: the rate window, then the credit reservation, then
-- the provider configuration to use. Returns a JSON object whose `status` is `reserved`,
-- `rate_limited`, `credit_limit_reached` or `not_team_member`.
--
-- Race-free: the rate window and the ledger are each changed by one conditional UPDATE of a
-- single row; concurrent callers queue on that row's lock and, under READ COMMITTED, re-check
-- the condition against the committed values, so no two reservations share the same credits.
create function public.reserve_ai_credits(
    user_id uuid, endpoint text, capability text, default_provider public.ai_provider,
    estimated_input_tokens integer, estimated_output_tokens integer, estimated_images integer,
    team_id uuid default null
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
    this_minute timestamptz := date_trunc('minute', now());
    subject_plan_name text;
    subject_plan public.ai_plans;
    subject_log_prompts boolean;
    config public.ai_provider_configs;
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

    insert into app_private.ai_rate_windows as w (user_id, window_start, requests)
    values (reserve_ai_credits.user_id, this_minute, 1)
    on conflict on constraint ai_rate_windows_pkey do update
        set window_start = this_minute,
            requests = case when w.window_start = this_minute then w.requests + 1 else 1 end
        where w.window_start <> this_minute or w.requests < subject_plan.requests_per_minute;
    if not found then
        insert into public.ai_requests (user_id, subject_id, period, endpoint, status, error_code)
        values (reserve_ai_credits.user_id, subject, current_period, endpoint, 'rejected', 'rate_limited');
        return jsonb_build_object(
            'status', 'rate_limited',
            'retry_after', ceil(extract(epoch from this_minute + interval '1 minute' - now()))::integer);
    end if;

    select c.* into config
    from public.ai_provider_configs as c
    where c.subject_id = subject and c.is_active and c.enabled;
    chosen_provider := coalesce(config.provider, default_provider);
    chosen_model := case capability
        when 'text' then config.text_model when 'image' then config.image_model else config.chat_model end;
    estimate := app_private.ai_credits_for(
        chosen_provider, chosen_model, estimated_input_tokens, estimated_output_tokens, estimated_images);

    insert into public.ai_credit_ledger (subject_id, period, allowance)
    values (subject, current_period, subject_plan.monthly_credits)
    on conflict do nothing;
    update public.ai_credit_ledger as l
    set reserved = l.reserved + estimate, updated_at = now()
    where l.subject_id = subject and l.period = current_period
      and l.used + l.reserved + estimate <= l.allowance
    returning l.* into ledger;

    if not found then
        select l.* into ledger from public.ai_credit_ledger as l
        where l.subject_id = subject and l.period = current_period;
        insert into public.ai_requests (user_id, subject_id, period, endpoint, provider, model, status, error_code)
        values (reserve_ai_credits.user_id, subject, current_period, endpoint, chosen_provider, chosen_model,
                'rejected', 'credit_limit_reached');
        return jsonb_build_object(
            'status', 'credit_limit_reached',
            'remaining', greatest(ledger.allowance - ledger.used - ledger.reserved, 0),
            'limit', ledger.allowance,
            'resets_at', resets_at);
    end if;

    insert into public.ai_requests (user_id, subject_id, period, endpoint, provider, model, status, reserved_credits)
    values (reserve_ai_credits.user_id, subject, current_period, endpoint, chosen_provider, chosen_model, 'reserved', estimate)
    returning id into request_id;

    return jsonb_build_object(
        'status', 'reserved',
        'request_id', request_id,
        'config_id', config.id,
        'provider', chosen_provider,
        'model', chosen_model,
        'base_url', config.base_url,
        'encrypted_api_key', config.encrypted_api_key,
        'api_key_version', config.api_key_version,
        'log_prompts', subject_log_prompts,
        'reserved', estimate,
        'remaining', ledger.allowance - ledger.used - ledger.reserved,
        'limit', ledger.allowance,
        'resets_at', resets_at);
end
$$;
revoke execute on function public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer,
    integer, uuid)
    from public, anon, authenticated;
grant execute on function public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer,
    integer, uuid)
    to service_role;

-- After a provider call: charge what the provider reported (priced by the provider and model
-- that answered: `provider` names the fallback when it stood in) and free the reservation.
-- Only a reservation still open is settled, so a retry is harmless.
create function public.settle_ai_credits(
    request_id uuid, model text, input_tokens integer, output_tokens integer, images integer,
    latency_ms integer, prompt text default null, provider public.ai_provider default null
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
    request public.ai_requests;
begin
    perform app_private.ai_metering_commit();
    -- One statement: only an open reservation is settled, and its row lock is held from here.
    update public.ai_requests as r
    set status = 'succeeded', provider = coalesce(settle_ai_credits.provider, r.provider),
        model = settle_ai_credits.model, input_tokens = settle_ai_credits.input_tokens,
        output_tokens = settle_ai_credits.output_tokens, images = settle_ai_credits.images,
        credits = app_private.ai_credits_for(coalesce(settle_ai_credits.provider, r.provider),
            settle_ai_credits.model, settle_ai_credits.input_tokens, settle_ai_credits.output_tokens,
            settle_ai_credits.images),
        latency_ms = settle_ai_credits.latency_ms, settled_at = now(),
        prompt = case when (select s.log_prompts from public.ai_subjects as s where s.subject_id = r.subject_id)
                      then settle_ai_credits.prompt end
    where r.id = request_id and r.status = 'reserved'
    returning r.* into request;
    if request is null then
        return false;
    end if;
    update public.ai_credit_ledger as l
    set used = l.used + request.credits, reserved = l.reserved - request.reserved_credits, updated_at = now()
    where l.subject_id = request.subject_id and l.period = request.period;
    return true;
end
$$;
revoke execute on function public.settle_ai_credits(uuid, text, integer, integer, integer, integer, text,
    public.ai_provider)
    from public, anon, authenticated;
grant execute on function public.settle_ai_credits(uuid, text, integer, integer, integer, integer, text,
    public.ai_provider)
    to service_role;

-- After a failed provider call: nothing is charged.
create function public.release_ai_credits(request_id uuid, error_code text, latency_ms integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
    request public.ai_requests;
begin
    perform app_private.ai_metering_commit();
    update public.ai_requests as r
    set status = 'failed', error_code = release_ai_credits.error_code, latency_ms = release_ai_credits.latency_ms,
        credits = 0, settled_at = now()
    where r.id = request_id and r.status = 'reserved'
    returning r.* into request;
    if request is null then
        return false;
    end if;
    update public.ai_credit_ledger as l
    set reserved = l.reserved - request.reserved_credits, updated_at = now()
    where l.subject_id = request.subject_id and l.period = request.period;
    return true;
end
$$;
revoke execute on function public.release_ai_credits(uuid, text, integer) from public, anon, authenticated;
grant execute on function public.release_ai_credits(uuid, text, integer) to service_role;

-- The monthly job: frees reservations a worker never settled (it crashed or was evicted) and
-- records the run. Safe to call any number of times; reports whether this month was already done.
create function public.reset_ai_credits()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    stale_after constant interval := interval '15 minutes';
    expired integer;
    first_run boolean;
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

    insert into app_private.ai_credit_resets (period) values (app_private.ai_current_period())
    on conflict do nothing;
    first_run := found;
    return jsonb_build_object(
        'period', app_private.ai_current_period(), 'already_reset', not first_run, 'expired_reservations', expired);
end
$$;
revoke execute on function public.reset_ai_credits() from public, anon, authenticated;
grant execute on function public.reset_ai_credits() to service_role;

-- Writes a provider configuration for the user or, if `team_id` is given, for the team (owners
-- and admins only). `config_id` is the id the worker bound the encrypted key to: it must be the
-- existing row's id, if there is one. A null key leaves the stored key as is unless `clear_key`.
-- Returns `{"status": "saved", "config": …}`, or `{"status": "forbidden"}` for a plain member
-- (a status, not an error: PostgREST-compatible servers report SQL errors differently).
create function public.save_ai_provider_config(
    user_id uuid, config_id uuid, provider public.ai_provider, clear_key boolean, enabled boolean,
    make_active boolean, team_id uuid default null, encrypted_api_key text default null,
    api_key_version text default null, text_model text default null, image_model text default null,
    chat_model text default null, base_url text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    subject uuid := coalesce(team_id, user_id);
    saved public.ai_provider_configs;
begin
    if team_id is not null and not exists (
        select from public.team_members as m
        where m.team_id = save_ai_provider_config.team_id and m.user_id = save_ai_provider_config.user_id
          and m.role in ('owner', 'admin')
    ) then
        return jsonb_build_object('status', 'forbidden');
    end if;
    if exists (
        select from public.ai_provider_configs as c
        where c.subject_id = subject and c.provider = save_ai_provider_config.provider and c.id <> config_id
    ) then
        raise exception 'the configuration changed concurrently' using errcode = '40001';
    end if;
    if make_active then
        update public.ai_provider_configs as c set is_active = false
        where c.subject_id = subject and c.is_active and c.provider <> save_ai_provider_config.provider;
    end if;

    insert into public.ai_provider_configs as c (
        id, user_id, team_id, provider, encrypted_api_key, api_key_version, enabled,
        text_model, image_model, chat_model, base_url, is_active)
    values (
        config_id, case when team_id is null then user_id end, team_id, provider, encrypted_api_key,
        api_key_version, enabled, text_model, image_model, chat_model, base_url, make_active)
    on conflict (id) do update set
        encrypted_api_key = case when save_ai_provider_config.clear_key then null
                                 else coalesce(excluded.encrypted_api_key, c.encrypted_api_key) end,
        api_key_version = case when save_ai_provider_config.clear_key then null
                               else coalesce(excluded.api_key_version, c.api_key_version) end,
        enabled = excluded.enabled, text_model = excluded.text_model, image_model = excluded.image_model,
        chat_model = excluded.chat_model, base_url = excluded.base_url,
        is_active = excluded.is_active or c.is_active
    returning c.* into saved;

    return jsonb_build_object('status', 'saved', 'config', jsonb_build_object(
        'id', saved.id, 'userId', saved.user_id, 'teamId', saved.team_id, 'provider', saved.provider,
        'hasApiKey', saved.has_api_key, 'enabled', saved.enabled,
        'models', jsonb_build_object('text', saved.text_model, 'image', saved.image_model, 'chat', saved.chat_model),
        'baseUrl', saved.base_url, 'active', saved.is_active, 'updatedAt', saved.updated_at));
end
$$;
revoke execute on function public.save_ai_provider_config(uuid, uuid, public.ai_provider, boolean, boolean,
    boolean, uuid, text, text, text, text, text, text)
    from public, anon, authenticated;
grant execute on function public.save_ai_provider_config(uuid, uuid, public.ai_provider, boolean, boolean,
    boolean, uuid, text, text, text, text, text, text)
    to service_role;

-- The id an encrypted key for (subject, provider) must be bound to: the existing row's, or new.
create function public.ai_provider_config_id(user_id uuid, provider public.ai_provider, team_id uuid default null)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(
        (select c.id from public.ai_provider_configs as c
         where c.subject_id = coalesce(ai_provider_config_id.team_id, ai_provider_config_id.user_id)
           and c.provider = ai_provider_config_id.provider),
        gen_random_uuid())
$$;
revoke execute on function public.ai_provider_config_id(uuid, public.ai_provider, uuid)
    from public, anon, authenticated;
grant execute on function public.ai_provider_config_id(uuid, public.ai_provider, uuid) to service_role;

-- The opt-in to keep prompt text in ai_requests: a team's owner or admin decides for the team,
-- a user for their own calls. Team changes are audited.
create function public.set_ai_prompt_logging(enabled boolean, team_id uuid default null)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
    subject uuid := coalesce(team_id, (select auth.uid()));
begin
    if subject is null then
        raise exception 'sign in first' using errcode = '42501';
    end if;
    if team_id is not null and not (team_id = any (app_private.user_team_ids('{owner,admin}'))) then
        raise exception 'only the team''s owner or an admin can change prompt logging' using errcode = '42501';
    end if;
    insert into public.ai_subjects as s (subject_id, log_prompts)
    values (subject, enabled)
    on conflict (subject_id) do update set log_prompts = excluded.log_prompts;
    if team_id is not null then
        perform app_private.log_team_event(team_id, 'ai.prompt_logging_changed', null,
            jsonb_build_object('enabled', enabled));
    end if;
    return enabled;
end
$$;
comment on function public.set_ai_prompt_logging(boolean, uuid) is
    'Opt in or out of keeping prompt text in ai_requests (a team: owner/admin; else the caller).';
revoke execute on function public.set_ai_prompt_logging(boolean, uuid) from public, anon;
grant execute on function public.set_ai_prompt_logging(boolean, uuid) to authenticated;

-- pg_cron's calls to the worker's `/v1/cron/*` endpoints, through pg_net. The worker's URL and
-- the secret it checks live in Vault as `worker_url` and `cron_secret`; without them the call
-- is skipped (null). pg_net waits up to five minutes (its default is 5 s): a cron endpoint works
-- while the request is open (publishing claims batches for ~25 s, and a batch's video uploads
-- can take longer), and Cloudflare cancels a request's work when its client hangs up.
-- Both extensions as hosted Supabase installs them: pg_cron in pg_catalog (its jobs in schema
-- cron), pg_net in extensions (its functions in schema net). Where pg_net is not available (the
-- local stacks), sql/50_net.sql provides schema net as a stand-in.
create extension if not exists pg_cron with schema pg_catalog;
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_net') then
        create extension if not exists pg_net with schema extensions;
    elsif not exists (select from pg_namespace where nspname = 'net') then
        raise exception 'pg_net is neither available nor stood in for (sql/50_net.sql)';
    end if;
end
$$;

create function app_private.request_worker(path text)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
    worker_url text := (select s.decrypted_secret from vault.decrypted_secrets as s where s.name = 'worker_url');
    cron_secret text := (select s.decrypted_secret from vault.decrypted_secrets as s where s.name = 'cron_secret');
begin
    if worker_url is null or cron_secret is null then
        return null;
    end if;
    return net.http_post(
        url := rtrim(worker_url, '/') || path,
        headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || cron_secret),
        timeout_milliseconds := 300000);
end
$$;
revoke execute on function app_private.request_worker(text) from public;

-- Monthly: the credit reset.
select cron.schedule('ai-credits-reset', '5 0 1 * *', $$select app_private.request_worker('/v1/cron/credits/reset')$$);
