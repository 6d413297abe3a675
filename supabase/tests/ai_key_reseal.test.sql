-- Re-sealing stored AI provider keys under the newest key version (the worker's
-- /v1/cron/tokens/reencrypt pass): only rows sealed with another version are listed, in pages by
-- id; a re-sealed key is written only over the very key and base URL that were read; and only the
-- service role may do either.
begin;
select plan(19);

select tests.create_user('reseal-alice@test.local') as alice \gset
select tests.create_user('reseal-bob@test.local') as bob \gset

-- Fixed ids above any random one, so the pages below hold only this file's rows whatever else
-- the database stores.
\set cursor 'ffffffff-ffff-4fff-8fff-fffffffffff0'
\set old_plain 'ffffffff-ffff-4fff-8fff-fffffffffff1'
\set old_bound 'ffffffff-ffff-4fff-8fff-fffffffffff2'
\set newest 'ffffffff-ffff-4fff-8fff-fffffffffff3'
\set keyless 'ffffffff-ffff-4fff-8fff-fffffffffff4'
\set old_other 'ffffffff-ffff-4fff-8fff-fffffffffff5'
insert into public.ai_provider_configs (id, user_id, provider, encrypted_api_key, api_key_version, base_url) values
    (:'old_plain', :'alice', 'openai', 'b2xkLXBsYWlu', 'v1', null),
    (:'old_bound', :'alice', 'openai_compatible', 'b2xkLWJvdW5k', 'v1', 'https://llm.example/v1'),
    (:'newest', :'alice', 'xai', 'bmV3ZXN0', 'v2', null),
    (:'keyless', :'alice', 'gemini', null, null, null),
    (:'old_other', :'bob', 'openai', 'b2xkLW90aGVy', 'v0', null);

-- The ids `ai_keys_to_reseal` lists after the cursor, in its order.
create function pg_temp.listed(batch_size integer, after_id uuid)
returns uuid[]
language sql
as $$
    select coalesce(array_agg((entry ->> 'id')::uuid order by ordinality), '{}')
    from jsonb_array_elements(public.ai_keys_to_reseal('v2', batch_size, after_id)) with ordinality as listed(entry, ordinality)
$$;
create function pg_temp.stored(config_id uuid)
returns text
language sql
as $$
    select (encrypted_api_key, api_key_version, base_url)::text from public.ai_provider_configs where id = config_id
$$;

-- Who may call.
select ok(not has_function_privilege('authenticated', 'public.ai_keys_to_reseal(text,integer,uuid)', 'execute')
    and not has_function_privilege('anon', 'public.ai_keys_to_reseal(text,integer,uuid)', 'execute'),
    'authenticated and anon cannot list the stored keys');
select ok(not has_function_privilege('authenticated', 'public.reseal_ai_key(uuid,text,text,text,text)', 'execute')
    and not has_function_privilege('anon', 'public.reseal_ai_key(uuid,text,text,text,text)', 'execute'),
    'nor write a re-sealed key');
select ok(has_function_privilege('service_role', 'public.ai_keys_to_reseal(text,integer,uuid)', 'execute')
    and has_function_privilege('service_role', 'public.reseal_ai_key(uuid,text,text,text,text)', 'execute'),
    'the service role can do both');
select tests.authenticate_as(:'alice');
select throws_ok($$select public.ai_keys_to_reseal('v2')$$, '42501', null,
    'a user calling the listing directly is refused');
select throws_ok(format($$select public.reseal_ai_key(%L, 'b2xkLXBsYWlu', 'Zm9yZ2Vk', 'v2')$$, :'old_plain'),
    '42501', null, 'and cannot overwrite a key');
select tests.authenticate_as_anon();
select throws_ok($$select public.ai_keys_to_reseal('v2')$$, '42501', null, 'nor can anon list');
select tests.clear_authentication();
select is(pg_temp.stored(:'old_plain'), '(b2xkLXBsYWlu,v1,)', 'the key is untouched');

-- The listing: rows sealed with any other version than the newest, keyless rows left out, by id.
select tests.authenticate_as_service_role();
select is(pg_temp.listed(100, :'cursor'), array[:'old_plain', :'old_bound', :'old_other']::uuid[],
    'only keys sealed with another version than the newest are listed, by id');
select is((select entry from jsonb_array_elements(public.ai_keys_to_reseal('v2', 1, :'old_plain')) as listed(entry)),
    jsonb_build_object('id', :'old_bound', 'base_url', 'https://llm.example/v1',
        'encrypted_api_key', 'b2xkLWJvdW5k', 'api_key_version', 'v1'),
    'each with its base URL, sealed key and version');
select is(pg_temp.listed(1, :'cursor'), array[:'old_plain']::uuid[], 'a page holds at most batch_size rows');
select is(pg_temp.listed(2, :'old_plain'), array[:'old_bound', :'old_other']::uuid[],
    'the next page starts after the given id');
select is(pg_temp.listed(2, :'old_other'), '{}'::uuid[], 'and the last one is empty');

-- Writing: only over what was read.
select is(public.reseal_ai_key(:'old_plain', 'b2xkLXBsYWlu', 'cmVzZWFsZWQtcGxhaW4=', 'v2'), true,
    'a key still as read is re-sealed');
select is(public.reseal_ai_key(:'old_bound', 'b2xkLWJvdW5k', 'cmVzZWFsZWQtYm91bmQ=', 'v2', 'https://llm.example/v1'),
    true, 'so is a key bound to its base URL, given that URL');
select tests.clear_authentication();
update public.ai_provider_configs set encrypted_api_key = 'c2F2ZWQtbWVhbndoaWxl', api_key_version = 'v2'
where id = :'old_other';
select tests.authenticate_as_service_role();
select is(public.reseal_ai_key(:'old_other', 'b2xkLW90aGVy', 'c3RhbGUtcmVzZWFs', 'v2'), false,
    'a key saved anew meanwhile is not overwritten by the re-seal of the old one');
select is(public.reseal_ai_key(:'old_bound', 'cmVzZWFsZWQtYm91bmQ=', 'Zm9yLWFub3RoZXItdXJs', 'v3', 'https://other.example/v1'),
    false, 'nor is a key whose base URL is not the one read');
select tests.clear_authentication();
select is(array[pg_temp.stored(:'old_plain'), pg_temp.stored(:'old_bound'), pg_temp.stored(:'old_other')],
    array['(cmVzZWFsZWQtcGxhaW4=,v2,)', '(cmVzZWFsZWQtYm91bmQ=,v2,https://llm.example/v1)',
        '(c2F2ZWQtbWVhbndoaWxl,v2,)'],
    'the rows hold the re-sealed keys, and the one saved meanwhile its own');
select is(pg_temp.stored(:'newest'), '(bmV3ZXN0,v2,)', 'a key already sealed with the newest version is left alone');
select tests.authenticate_as_service_role();
select is(pg_temp.listed(100, :'cursor'), '{}'::uuid[], 'and nothing is left to re-seal');
select tests.clear_authentication();

select * from finish();
rollback;
