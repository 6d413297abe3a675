-- AI keys and models (issue #17, C1/H2/H4/L10): a base URL goes only with its own key, a stored
-- key never follows a changed base URL, the platform's key runs priced models only, and a
-- settlement never takes the ledger past its allowance.
begin;
select plan(33);

select tests.create_user('keys-alice@test.local') as alice \gset
select tests.create_user('keys-bob@test.local') as bob \gset
select tests.create_user('keys-carol@test.local') as carol \gset
insert into public.ai_plans (plan, monthly_credits, requests_per_minute) values ('keys-tiny', 10, 100);
insert into public.ai_subjects (subject_id, plan) values (:'carol', 'keys-tiny');
insert into public.ai_model_prices (provider, model, credits_per_request) values ('openai', 'keys-priced-3', 3);

-- Saves alice's OpenAI configuration; null arguments are left out as the worker does.
create function pg_temp.save(key text, base_url text, clear_key boolean default false, model text default null)
returns jsonb
language sql
as $$
    select public.save_ai_provider_config(user_id => (select id from auth.users where email = 'keys-alice@test.local'),
        config_id => public.ai_provider_config_id(
            user_id => (select id from auth.users where email = 'keys-alice@test.local'), provider => 'openai'),
        provider => 'openai', clear_key => clear_key, enabled => true, make_active => true,
        encrypted_api_key => key, api_key_version => case when key is not null then 'v1' end,
        base_url => base_url, text_model => model)
$$;
create function pg_temp.stored()
returns text
language sql
as $$
    select (has_api_key, encrypted_api_key, base_url)::text from public.ai_provider_configs
    where user_id = (select id from auth.users where email = 'keys-alice@test.local')
$$;

-- C1: a base URL needs a key of its own.
select is(pg_temp.save(null, 'https://evil.example/v1'),
    '{"status": "api_key_required", "reason": "base_url_needs_key"}', 'a base URL without a key is refused');
select is(pg_temp.stored(), null, '... and nothing is saved');
select is(public.save_ai_provider_config(user_id => :'alice', config_id => gen_random_uuid(),
        provider => 'openai_compatible', clear_key => false, enabled => true, make_active => false,
        base_url => 'https://llm.example/v1'),
    '{"status": "api_key_required", "reason": "base_url_needs_key"}',
    'openai_compatible needs a base URL, so it needs a key too');
select throws_ok($$insert into public.ai_provider_configs (id, user_id, provider, base_url)
                   values (gen_random_uuid(), '$$ || :'bob' || $$', 'openai', 'https://evil.example/v1')$$,
    '23514', null, 'the table refuses a base URL without a key, whoever writes it');

-- H4: a stored key never follows a changed base URL.
select is(pg_temp.save('a2V5LXg=', 'https://x.example/v1') ->> 'status', 'saved', 'a key with its base URL is saved');
select is(pg_temp.save(null, 'https://y.example/v1'),
    '{"status": "api_key_required", "reason": "base_url_changed"}', 'changing only the base URL is refused');
select is(pg_temp.save(null, null),
    '{"status": "api_key_required", "reason": "base_url_changed"}',
    'removing the base URL (back to the provider''s own) needs the key again too');
select is(pg_temp.stored(), '(t,a2V5LXg=,https://x.example/v1)', '... and the stored key and base URL are unchanged');
select is(pg_temp.save(null, 'https://x.example/v1', model => 'gpt-4o') ->> 'status', 'saved',
    'other changes keep the key while the base URL stays');
select is(pg_temp.stored(), '(t,a2V5LXg=,https://x.example/v1)', '... with the key');
select is(pg_temp.save(null, 'https://x.example/v1', clear_key => true),
    '{"status": "api_key_required", "reason": "base_url_needs_key"}', 'a key cannot be removed from under its base URL');
select is(pg_temp.save('a2V5LXk=', 'https://y.example/v1') -> 'config' ->> 'hasApiKey', 'true',
    'a new base URL with its key is saved');
select is(pg_temp.save(null, null, clear_key => true) -> 'config' ->> 'hasApiKey', 'false',
    'removing key and base URL together is fine');

-- C1 in the reservation: the key and base URL go out together or not at all.
select public.reserve_ai_credits(:'alice', 'generate-text', 'text', 'openai', 1, 1, 0) as keyless \gset
select is(:'keyless'::jsonb -> 'base_url', 'null', 'no key: no base URL is handed out');
select pg_temp.save('a2V5LXo=', 'https://z.example/v1');
select public.reserve_ai_credits(:'alice', 'generate-text', 'text', 'openai', 1, 1, 0) as own \gset
select is((:'own'::jsonb ->> 'base_url', :'own'::jsonb ->> 'encrypted_api_key')::text, '(https://z.example/v1,a2V5LXo=)',
    'an own key comes with its base URL');
select public.reserve_ai_credits(:'alice', 'jobs/draft', 'text', 'openai', 1, 1, 0, requested_provider => 'gemini') as other \gset
select is(:'other'::jsonb - '{request_id,model,log_prompts,reserved,remaining,limit,resets_at,window}'::text[],
    '{"status": "reserved", "provider": "gemini", "base_url": null, "config_id": null, "encrypted_api_key": null,
      "api_key_version": null}',
    'a request for another provider gets neither the key nor the base URL');
select public.reserve_ai_credits(:'alice', 'moderate', 'text', 'openai', 1, 1, 0, requested_provider => 'openai',
    requested_model => 'omni-moderation-latest', platform_only => true) as moderation \gset
select is(:'moderation'::jsonb - '{request_id,log_prompts,reserved,remaining,limit,resets_at,window}'::text[],
    '{"status": "reserved", "provider": "openai", "model": "omni-moderation-latest", "base_url": null,
      "config_id": null, "encrypted_api_key": null, "api_key_version": null}',
    'moderation ignores the caller''s configuration');

-- A key-less row with a base URL from before the constraint (openai_compatible kept its own).
alter table public.ai_provider_configs drop constraint ai_provider_configs_base_url_needs_key;
insert into public.ai_provider_configs (id, user_id, provider, base_url, is_active)
values (gen_random_uuid(), :'bob', 'openai_compatible', 'https://evil.example/v1', true);
select public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) as legacy \gset
select is((:'legacy'::jsonb ->> 'provider', :'legacy'::jsonb ->> 'base_url')::text, '(openai_compatible,)',
    'an old key-less row''s base URL is never handed out');
delete from public.ai_provider_configs where user_id = :'bob';

-- H2: model names and prices.
select throws_ok($$select public.reserve_ai_credits('$$ || :'bob' || $$', 'chat-completions', 'text', 'gemini', 1, 1, 0,
                   requested_model => 'veo-3.0-generate-001:predictLongRunning#')$$, '22023', null,
    'a model name outside the character set is refused');
select throws_ok($$select public.save_ai_provider_config(user_id => '$$ || :'bob' || $$', config_id => gen_random_uuid(),
                   provider => 'gemini', clear_key => false, enabled => true, make_active => true,
                   image_model => 'x?alt=sse')$$, '22023', null, 'a configuration''s model names are checked too');
select is(public.reserve_ai_credits(:'bob', 'chat-completions', 'text', 'openai', 1, 1, 0, requested_model => 'o1-pro'),
    '{"status": "model_not_allowed", "provider": "openai", "model": "o1-pro"}',
    'the platform''s key runs no unpriced model');
select is((select (status, error_code)::text from public.ai_requests where user_id = :'bob' and model = 'o1-pro'),
    '(rejected,model_not_allowed)', 'the refusal is logged');
select public.save_ai_provider_config(user_id => :'bob', config_id => gen_random_uuid(), provider => 'openai',
    clear_key => false, enabled => true, make_active => true, text_model => 'gpt-4.5-preview');
select is(public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) ->> 'status', 'model_not_allowed',
    'nor an unpriced model a key-less configuration names');
select is(public.reserve_ai_credits(:'alice', 'chat-completions', 'text', 'openai', 1, 1, 0, requested_model => 'o1-pro')
    ->> 'status', 'reserved', 'the caller''s own key runs any valid model');
select is(public.reserve_ai_credits(:'bob', 'chat-completions', 'text', 'openai', 0, 0, 0, requested_model => 'keys-priced-3')
    ->> 'reserved', '3', 'a priced model is reserved at its own price');
select ok((select bool_and(app_private.ai_model_priced(p, m)) from (values
        ('openai'::public.ai_provider, 'gpt-4o-mini'), ('openai', 'gpt-image-1'), ('openai', 'omni-moderation-latest'),
        ('openai_compatible', 'gpt-4o-mini'), ('xai', 'grok-3-mini'), ('xai', 'grok-2-image'),
        ('gemini', 'gemini-2.5-flash'), ('gemini', 'imagen-4.0-generate-001')) as defaults (p, m)),
    'every default model of the worker is priced');

-- L10: a settlement never takes the ledger past its allowance (Carol: 10 credits).
select public.reserve_ai_credits(:'carol', 'chat-completions', 'text', 'openai', 0, 0, 0,
    requested_model => 'keys-priced-3') ->> 'request_id' as small \gset
select public.reserve_ai_credits(:'carol', 'chat-completions', 'text', 'openai', 0, 0, 0,
    requested_model => 'keys-priced-3') ->> 'request_id' as other_open \gset
select public.settle_ai_credits(:'small', 'gpt-4o-mini', 1000000, 1000000, 0, 5);
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'carol'), '(7,3)',
    'a settlement far over its estimate is charged only up to the allowance, open reservations kept');
select is((select credits from public.ai_requests where id = :'small'), 7::bigint, 'the request logs what was charged');
select throws_ok($$update public.ai_credit_ledger set used = 8 where subject_id = '$$ || :'carol' || $$'$$, '23514', null,
    'the ledger itself refuses used + reserved over the allowance');

-- A call whose caller got an error is released, whatever the provider did (#26): no charge.
select hasnt_function('public', 'charge_ai_reservation', 'no way is left to charge a failed call');
select ok(public.release_ai_credits(:'other_open', 'invalid_model_output', 9), 'an invalid answer is released');
select is((select (status, error_code, credits)::text from public.ai_requests where id = :'other_open'),
    '(failed,invalid_model_output,0)', '... logged as failed, at no cost');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'carol'), '(7,0)',
    '... and its reservation returned');

select * from finish();
rollback;
