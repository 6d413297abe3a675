-- AI keys and models, hardened (issue #17: C1, H2, H4, L10).
--
-- * A configuration's base URL is only ever used with that configuration's own key: a base URL
--   needs a stored key, and `reserve_ai_credits` hands out a base URL only together with its key.
--   Without one the worker calls the platform's provider with the platform's key and base URL.
-- * A stored key never follows a changed base URL: changing `base_url` needs the key again. The
--   worker also binds the base URL into the key's associated data (`ai/keys.rs`).
-- * Model names have a strict character set, and with the platform's key only priced models run
--   (`model_not_allowed`); the caller's own key may name any valid model (priced at `*`).
-- * Overspend is bounded: a settlement never takes the ledger past its allowance
--   (`used + reserved <= allowance` always holds), and a malformed provider answer is charged at
--   its reservation (`charge_ai_reservation`).

-- Letters and digits, then also `.`, `_`, `-`, `:` (fine-tuned and self-hosted names such as
-- `ft:gpt-4o-mini:org::id`, `llama3:8b`) and `/` (routers' `vendor/model`); never `..`, `%`, `?`,
-- `#`, spaces or controls. The worker checks the same rule (`ai::provider::validate_model`) and
-- percent-encodes a model wherever it goes into a URL path.
create function app_private.is_valid_ai_model(model text)
returns boolean
language sql
immutable
set search_path = ''
as $$
    select model ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$' and model !~ '\.\.'
$$;
revoke execute on function app_private.is_valid_ai_model(text) from public;

-- Existing rows: a base URL without a key was only ever a way to send the platform's key
-- elsewhere; the platform's own base URL applies to them from now on. (A key-less
-- openai_compatible row keeps its required base URL, which is never used without a key: the
-- constraint below is not validated for old rows.)
update public.ai_provider_configs
set base_url = null
where base_url is not null and encrypted_api_key is null and provider <> 'openai_compatible';

alter table public.ai_provider_configs
    add constraint ai_provider_configs_base_url_needs_key
        check (base_url is null or encrypted_api_key is not null) not valid,
    add constraint ai_provider_configs_valid_models
        check (app_private.is_valid_ai_model(text_model) and app_private.is_valid_ai_model(image_model)
               and app_private.is_valid_ai_model(chat_model)) not valid;

-- The models the worker uses by default (`ProviderKind::default_model`, and OpenAI's moderation
-- model, free at OpenAI), priced as the `*` rows price them. With the platform's key only models
-- with a row of their own are allowed; operators add rows to allow more and edit them to reprice.
insert into public.ai_model_prices (provider, model, input_credits_per_1k, output_credits_per_1k, credits_per_image)
values
    ('openai', 'gpt-4o-mini', 0.5, 1.5, 10),
    ('openai', 'gpt-image-1', 0.5, 1.5, 10),
    ('openai', 'omni-moderation-latest', 0, 0, 0),
    ('openai_compatible', 'gpt-4o-mini', 0.5, 1.5, 10),
    ('xai', 'grok-3-mini', 0.5, 1.5, 10),
    ('xai', 'grok-2-image', 0.5, 1.5, 10),
    ('gemini', 'gemini-2.5-flash', 0.5, 1.5, 10),
    ('gemini', 'imagen-4.0-generate-001', 0.5, 1.5, 10)
on conflict (provider, model) do nothing;
comment on table public.ai_model_prices is
    'Credits per call, per provider and model. With the platform''s key only models with their own row run; '
    'model * prices any other model called with the caller''s own key.';

-- Whether the platform's key may run `model`: it has a price of its own.
create function app_private.ai_model_priced(provider public.ai_provider, model text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return model <> '*' and exists (
        select from public.ai_model_prices as p
        where p.provider = ai_model_priced.provider and p.model = ai_model_priced.model);
end
$$;
revoke execute on function app_private.ai_model_priced(public.ai_provider, text) from public;

-- The ledger never goes past its allowance: reservations are conditional, settlements capped.
-- (Not validated for rows of months settled before this migration.)
alter table public.ai_credit_ledger
    add constraint ai_credit_ledger_within_allowance check (used + reserved <= allowance) not valid;

-- The reservation, now also naming the provider and model the request asked for (a chat
-- completion's `model`, a job step's `provider` and `model`) and, for moderation, that only the
-- platform's own provider and key may answer (`platform_only`: the caller's configuration is
-- ignored). The configuration applies only to its own provider; its key and base URL are handed
-- out together or not at all. A model the platform's key would run must be priced, else
-- `{"status": "model_not_allowed", "provider", "model"}` (logged as rejected).
drop function public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid);

create function public.reserve_ai_credits(
    user_id uuid, endpoint text, capability text, default_provider public.ai_provider,
    estimated_input_tokens integer, estimated_output_tokens integer, estimated_images integer,
    team_id uuid default null, requested_provider public.ai_provider default null,
    requested_model text default null, platform_only boolean default false
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
    retry_after integer;
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

    retry_after := app_private.count_in_window(
        reserve_ai_credits.user_id, 'ai_request', subject_plan.requests_per_minute, interval '1 minute');
    if retry_after > 0 then
        insert into public.ai_requests (user_id, subject_id, period, endpoint, status, error_code)
        values (reserve_ai_credits.user_id, subject, current_period, endpoint, 'rejected', 'rate_limited');
        return jsonb_build_object('status', 'rate_limited', 'retry_after', retry_after);
    end if;

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
        'resets_at', resets_at);
end
$$;
revoke execute on function
    public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid,
        public.ai_provider, text, boolean)
from public, anon, authenticated;
grant execute on function
    public.reserve_ai_credits(uuid, text, text, public.ai_provider, integer, integer, integer, uuid,
        public.ai_provider, text, boolean)
to service_role;

-- Moves a settled request's reservation to `used`, charging `credits` capped at what the ledger
-- can still take (this reservation plus what was free), and returns the credits charged. The
-- cap is computed on the locked ledger row, so concurrent settlements cannot pass it together.
create function app_private.ai_charge_reservation(request public.ai_requests, credits bigint)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    headroom bigint;
    charged bigint;
begin
    select l.allowance - l.used - l.reserved + request.reserved_credits into headroom
    from public.ai_credit_ledger as l
    where l.subject_id = request.subject_id and l.period = request.period
    for update;
    charged := least(credits, greatest(headroom, 0));
    update public.ai_credit_ledger as l
    set used = l.used + charged, reserved = l.reserved - request.reserved_credits, updated_at = now()
    where l.subject_id = request.subject_id and l.period = request.period;
    return charged;
end
$$;
revoke execute on function app_private.ai_charge_reservation(public.ai_requests, bigint) from public;

-- Settlement charges what the provider reported at the model's price, capped so the ledger
-- stays within its allowance: at most the reservation plus what was still free. The request
-- log keeps the tokens reported, and the credits actually charged.
create or replace function public.settle_ai_credits(
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
    charged bigint;
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
    charged := app_private.ai_charge_reservation(request, coalesce(request.credits, request.reserved_credits));
    if charged is distinct from request.credits then
        update public.ai_requests as r set credits = charged where r.id = request.id;
    end if;
    return true;
end
$$;

-- A provider call that answered 2xx in a shape it does not document (e.g. a long-running
-- operation where images were asked for) is not a refusal: the provider was paid, so the
-- reservation is charged, capped like a settlement. The request is logged as failed with the
-- credits it cost.
create function public.charge_ai_reservation(request_id uuid, error_code text, latency_ms integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
    request public.ai_requests;
    charged bigint;
begin
    perform app_private.ai_metering_commit();
    update public.ai_requests as r
    set status = 'failed', error_code = charge_ai_reservation.error_code,
        latency_ms = charge_ai_reservation.latency_ms, credits = r.reserved_credits, settled_at = now()
    where r.id = request_id and r.status = 'reserved'
    returning r.* into request;
    if request is null then
        return false;
    end if;
    charged := app_private.ai_charge_reservation(request, request.reserved_credits);
    if charged is distinct from request.credits then
        update public.ai_requests as r set credits = charged where r.id = request.id;
    end if;
    return true;
end
$$;
revoke execute on function public.charge_ai_reservation(uuid, text, integer) from public, anon, authenticated;
grant execute on function public.charge_ai_reservation(uuid, text, integer) to service_role;

-- Saving a configuration: a base URL needs a key (a new one, or the stored one if the base URL
-- is unchanged); a changed base URL needs the key again, so a stored key never follows its
-- endpoint elsewhere. Both are refused as `{"status": "api_key_required", "reason":
-- "base_url_needs_key" | "base_url_changed"}`. Models must be valid names.
create or replace function public.save_ai_provider_config(
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
    stored public.ai_provider_configs;
    keeps_stored_key boolean;
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
    if not (app_private.is_valid_ai_model(text_model) and app_private.is_valid_ai_model(image_model)
            and app_private.is_valid_ai_model(chat_model)) then
        raise exception 'invalid model name' using errcode = '22023';
    end if;

    select c.* into stored from public.ai_provider_configs as c where c.id = config_id for update;
    keeps_stored_key := save_ai_provider_config.encrypted_api_key is null and not clear_key
        and stored.encrypted_api_key is not null;
    if keeps_stored_key and stored.base_url is distinct from save_ai_provider_config.base_url then
        return jsonb_build_object('status', 'api_key_required', 'reason', 'base_url_changed');
    end if;
    if save_ai_provider_config.base_url is not null and save_ai_provider_config.encrypted_api_key is null
       and not keeps_stored_key then
        return jsonb_build_object('status', 'api_key_required', 'reason', 'base_url_needs_key');
    end if;

    if make_active then
        update public.ai_provider_configs as c set is_active = false
        where c.subject_id = subject and c.is_active and c.provider <> save_ai_provider_config.provider;
    end if;

    -- The key the row will hold goes into the inserted values too: the table's checks apply to
    -- them before the conflict turns the insert into an update.
    insert into public.ai_provider_configs as c (
        id, user_id, team_id, provider, encrypted_api_key, api_key_version, enabled,
        text_model, image_model, chat_model, base_url, is_active)
    values (
        config_id, case when team_id is null then user_id end, team_id, provider,
        case when keeps_stored_key then stored.encrypted_api_key else encrypted_api_key end,
        case when keeps_stored_key then stored.api_key_version else api_key_version end,
        enabled, text_model, image_model, chat_model, base_url, make_active)
    on conflict (id) do update set
        encrypted_api_key = excluded.encrypted_api_key, api_key_version = excluded.api_key_version,
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
