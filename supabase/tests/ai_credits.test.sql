-- The AI proxy's tables and RPCs: keys never readable, credits reserved/settled/released
-- correctly, the allowance and the rate window enforced, the monthly reset idempotent.
begin;
select plan(41);

select tests.create_user('ai-alice@test.local') as alice \gset
select tests.create_user('ai-bob@test.local') as bob \gset
select tests.create_user('ai-member@test.local') as member \gset
select tests.create_team(:'alice', 'AI team') as team \gset
select tests.add_team_member(:'team', :'member');
insert into public.ai_plans (plan, monthly_credits, requests_per_minute) values ('tiny', 10, 3);
insert into public.ai_model_prices (provider, model, credits_per_request) values ('openai', 'flat-4', 4);

-- Keys: written through the service role only, never readable by an API role.
select tests.authenticate_as_service_role();
select public.save_ai_provider_config(user_id => :'alice',
    config_id => public.ai_provider_config_id(user_id => :'alice', provider => 'openai'), provider => 'openai',
    clear_key => false, enabled => true, make_active => true, encrypted_api_key => 'c2VhbGVkLWtleQ==',
    api_key_version => 'v1', text_model => 'flat-4');
select tests.clear_authentication();
select is((select has_api_key from public.ai_provider_configs where user_id = :'alice'), true,
    'a saved key shows as has_api_key');

select ok(not has_column_privilege('authenticated', 'public.ai_provider_configs', 'encrypted_api_key', 'select'),
    'authenticated cannot select the encrypted key column');
select ok(not has_column_privilege('anon', 'public.ai_provider_configs', 'encrypted_api_key', 'select'),
    'anon cannot select the encrypted key column');
select ok(has_column_privilege('authenticated', 'public.ai_provider_configs', 'has_api_key', 'select'),
    'authenticated can select has_api_key');
select ok(not has_table_privilege('authenticated', 'public.ai_provider_configs', 'insert')
    and not has_table_privilege('authenticated', 'public.ai_provider_configs', 'update'),
    'clients cannot write configurations directly');

select tests.authenticate_as(:'alice');
select throws_ok('select encrypted_api_key from public.ai_provider_configs', '42501', null,
    'the owner cannot read their key back');
select results_eq('select provider::text, has_api_key from public.ai_provider_configs',
    $$values ('openai', true)$$, 'the owner sees their configuration without the key');
select tests.authenticate_as(:'bob');
select is_empty('select from public.ai_provider_configs', 'others'' configurations are invisible');
select tests.clear_authentication();

select ok(not has_function_privilege('authenticated',
        'public.reserve_ai_credits(uuid,text,text,public.ai_provider,integer,integer,integer,uuid,public.ai_provider,text,boolean,text)',
            'execute')
    and not has_function_privilege('anon', 'public.settle_ai_credits(uuid,text,integer,integer,integer,integer,text,public.ai_provider)', 'execute')
    and has_function_privilege('service_role', 'public.release_ai_credits(uuid,text,integer)', 'execute'),
    'only the service role calls the credit RPCs');

-- Reserve, settle, release (Alice: free plan, 200 credits; her config prices 4 per request).
select public.reserve_ai_credits(:'alice', 'generate-text', 'text', 'gemini', 10, 10, 0) as reservation \gset
select is(:'reservation'::jsonb ->> 'status', 'reserved', 'a reservation within the allowance succeeds');
select is(current_setting('synchronous_commit'), 'off',
    'metering commits without waiting for the WAL flush (for the rest of its transaction)');
select is(:'reservation'::jsonb - '{request_id,config_id,resets_at}'::text[],
    jsonb_build_object('status', 'reserved', 'provider', 'openai', 'model', 'flat-4', 'base_url', null,
        'encrypted_api_key', 'c2VhbGVkLWtleQ==', 'api_key_version', 'v1', 'log_prompts', false,
        'reserved', 4, 'remaining', 196, 'limit', 200,
        'window', jsonb_build_object('limit', 10, 'remaining', 9, 'reset', (:'reservation'::jsonb #> '{window,reset}'),
            'length', 60)),
    'the reservation names the active config and prices its model');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'alice'), '(0,4)',
    'the estimate is held as reserved');
select ok(public.settle_ai_credits((:'reservation'::jsonb ->> 'request_id')::uuid, 'flat-4', 5, 7, 0, 30),
    'settle succeeds once');
select ok(not public.settle_ai_credits((:'reservation'::jsonb ->> 'request_id')::uuid, 'flat-4', 5, 7, 0, 30),
    'a repeated settle does nothing');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'alice'), '(4,0)',
    'settle charges the used credits and frees the reservation');
select is((select (status, input_tokens, output_tokens, credits, latency_ms, prompt)::text
           from public.ai_requests where id = (:'reservation'::jsonb ->> 'request_id')::uuid),
    '(succeeded,5,7,4,30,)', 'the request log has tokens, credits and latency but no prompt');

select public.reserve_ai_credits(:'alice', 'generate-text', 'text', 'openai', 10, 10, 0) ->> 'request_id' as failed \gset
select ok(public.release_ai_credits(:'failed', 'provider_unavailable', 12), 'release succeeds');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'alice'), '(4,0)',
    'a released reservation costs nothing');
select is((select (status, error_code, credits)::text from public.ai_requests where id = :'failed'),
    '(failed,provider_unavailable,0)', 'the failure is logged with its code');

-- The allowance: Bob on the tiny plan (10 credits, 3 requests a minute), 4 credits a call.
insert into public.ai_subjects (subject_id, plan) values (:'bob', 'tiny');
insert into public.ai_provider_configs (id, user_id, provider, text_model, is_active)
values (gen_random_uuid(), :'bob', 'openai', 'flat-4', true);
select public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) ->> 'request_id' as bob_first \gset
select public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0);
select is(public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) - 'resets_at',
    '{"status": "credit_limit_reached", "needed": 4, "remaining": 2, "limit": 10}',
    'over the allowance: refused with what the call needs and what remains');
select is((select count from app_private.rate_windows where subject = :'bob' and action = 'ai_request'), 2,
    'a call refused for its credits takes no slot of the window');
select public.release_ai_credits(:'bob_first', 'provider_unavailable', 1);
select is(public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) ->> 'status', 'reserved',
    'with credits free again, the window''s third call is granted');
select ok((public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0) ->> 'status') = 'rate_limited'
    and (public.reserve_ai_credits(:'bob', 'x', 'text', 'openai', 1, 1, 0) ->> 'retry_after')::int between 1 and 60,
    'over the rate: refused with the seconds until the window ends');
select is((select count(*)::int from public.ai_requests where user_id = :'bob' and status = 'rejected'), 4,
    'refused calls are logged');
select is((select count from app_private.rate_windows where subject = :'bob' and action = 'ai_request'), 3,
    'the AI window is the shared windowed limit: three calls counted, none over the rate');
select hasnt_table('app_private', 'ai_rate_windows', 'no second window mechanism for AI requests');

-- Teams: members spend the team's credits; outsiders cannot.
select is(public.reserve_ai_credits(:'bob', 'generate-text', 'text', 'openai', 1, 1, 0, team_id => :'team'),
    '{"status": "not_team_member"}', 'a non-member cannot spend a team''s credits');
select is(public.reserve_ai_credits(:'member', 'generate-text', 'text', 'openai', 1, 1, 0, team_id => :'team') ->> 'status',
    'reserved', 'a member spends the team''s credits');
select is(public.save_ai_provider_config(user_id => :'member', team_id => :'team', config_id => gen_random_uuid(),
        provider => 'xai', clear_key => false, enabled => true, make_active => true),
    '{"status": "forbidden"}', 'plain members cannot configure the team''s providers');

-- A fallback provider that answered is what is priced and logged.
select public.reserve_ai_credits(:'alice', 'generate-text', 'text', 'openai', 10, 10, 0) ->> 'request_id' as fallback \gset
select public.settle_ai_credits(:'fallback', 'gemini-2.5-flash', 5, 7, 0, 30, provider => 'gemini');
select is((select (provider, model, credits)::text from public.ai_requests where id = :'fallback'),
    '(gemini,gemini-2.5-flash,1)', 'settle prices and logs the provider that answered');

-- Prompt logging is opt-in: the team's owner or admin decides, a plain member or an outsider cannot.
select tests.authenticate_as(:'member');
select throws_ok($$select public.set_ai_prompt_logging(true, team_id => '$$ || :'team' || $$')$$, '42501', null,
    'a plain member cannot opt the team in');
select tests.authenticate_as(:'bob');
select throws_ok($$select public.set_ai_prompt_logging(true, team_id => '$$ || :'team' || $$')$$, '42501', null,
    'an outsider cannot opt the team in');
select ok(public.set_ai_prompt_logging(true), 'a user opts in for their own calls');
select tests.authenticate_as(:'alice');
select ok(public.set_ai_prompt_logging(true, team_id => :'team'), 'the owner opts the team in');
select tests.clear_authentication();
select is((select count(*)::int from public.audit_log where team_id = :'team' and action = 'ai.prompt_logging_changed'), 1,
    'the team''s opt-in is audited');
select public.reserve_ai_credits(:'member', 'generate-text', 'text', 'openai', 1, 1, 0, team_id => :'team')
    ->> 'request_id' as logged \gset
select public.settle_ai_credits(:'logged', 'gpt-4o-mini', 1, 1, 0, 5, prompt => 'hello team');
select is((select prompt from public.ai_requests where id = :'logged'), 'hello team',
    'once opted in, the prompt is kept');

-- The reset: stale reservations are released; a second run in the month changes nothing.
update public.ai_requests set created_at = now() - interval '1 hour' where subject_id = :'team';
select is(public.reset_ai_credits() - 'period' - 'already_reset', '{"expired_reservations": 1}',
    'the reset expires stale reservations');
select is((select reserved from public.ai_credit_ledger where subject_id = :'team'), 0::bigint,
    'their credits return to the team');
select is(public.reset_ai_credits() -> 'already_reset', 'true', 'a second reset in the same month is a no-op');

-- pg_cron's calls: to the worker's URL from Vault, with the cron secret, and pg_net keeps the
-- connection open while the worker works (Cloudflare cancels a request whose client hung up).
delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('http://worker.test/', 'worker_url');
select vault.create_secret('cron-secret-test', 'cron_secret');
select app_private.request_worker('/v1/cron/credits/reset') as queued \gset
select is(
    (select (url, headers ->> 'Authorization', timeout_milliseconds)::text
     from net.http_request_queue where id = :queued),
    '(http://worker.test/v1/cron/credits/reset,"Bearer cron-secret-test",300000)',
    'cron calls reach the worker with the secret and wait up to five minutes');

select * from finish();
rollback;
