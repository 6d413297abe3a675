-- Social connections: tokens never readable by clients, team-scoped reads, the OAuth state
-- RPCs (single use, expiry, platform binding, roles) and the single-flight refresh lease.
begin;
select plan(54);

select tests.create_user('sc-owner@test.local') as owner \gset
select tests.create_user('sc-admin@test.local') as admin \gset
select tests.create_user('sc-member@test.local') as member \gset
select tests.create_user('sc-outsider@test.local') as outsider \gset
select tests.create_team(:'owner', 'Social team') as team \gset
select tests.create_team(:'outsider', 'Other team') as other_team \gset
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');

-- A connection as the worker saves it (service role).
select tests.authenticate_as_service_role();
select public.social_connection_id(team_id => :'team', platform => 'x', external_account_id => '42') as conn \gset
select public.save_social_connection(connection_id => :'conn', team_id => :'team', user_id => :'admin',
    platform => 'x', external_account_id => '42', encrypted_access_token => 'c2VhbGVkLWF0',
    token_key_version => 'v1', display_name => 'Pixa', handle => 'pixa', scopes => '{tweet.read,offline.access}',
    encrypted_refresh_token => 'c2VhbGVkLXJ0', access_token_expires_in => 60);
select is(public.social_connection_id(team_id => :'team', platform => 'x', external_account_id => '42'),
    :'conn'::uuid, 'reconnecting the same account reuses its id');
select throws_ok(
    format($$select public.save_social_connection(connection_id => gen_random_uuid(), team_id => %L,
        user_id => %L, platform => 'x', external_account_id => '42', encrypted_access_token => 'x',
        token_key_version => 'v1')$$, :'team', :'admin'),
    '40001', null, 'tokens sealed for another id cannot overwrite a connection');
select tests.clear_authentication();

-- Token columns: never granted to the API roles; the view has none.
select ok(not has_column_privilege('authenticated', 'public.social_connections', 'encrypted_access_token', 'select')
    and not has_column_privilege('authenticated', 'public.social_connections', 'encrypted_refresh_token', 'select')
    and not has_column_privilege('authenticated', 'public.social_connections', 'refresh_lease_id', 'select')
    and not has_column_privilege('anon', 'public.social_connections', 'encrypted_access_token', 'select'),
    'no API role can select the sealed tokens or the lease');
select ok(has_column_privilege('authenticated', 'public.social_connections', 'display_name', 'select'),
    'members can select the public columns');
select ok(not has_table_privilege('authenticated', 'public.social_connections', 'insert')
    and not has_table_privilege('authenticated', 'public.social_connections', 'update')
    and not has_table_privilege('authenticated', 'public.social_connections', 'delete'),
    'clients cannot write connections directly');
select is_empty($$select column_name from information_schema.columns
    where table_schema = 'public' and table_name = 'social_accounts'
      and (column_name like '%token%' and column_name <> 'access_token_expires_at' or column_name like '%lease%')$$,
    'the social_accounts view has no token or lease column');

select tests.authenticate_as(:'member');
select throws_ok('select encrypted_access_token from public.social_connections', '42501', null,
    'a member cannot read a sealed token');
select throws_ok('select * from public.social_connections', '42501', null,
    'select * is refused too (it names the token columns)');
select results_eq('select platform::text, handle, status::text from public.social_accounts',
    $$values ('x', 'pixa', 'active')$$, 'a member lists the team''s connection through the view');
select tests.authenticate_as(:'outsider');
select is_empty('select from public.social_accounts', 'another team''s member sees no connection');
select tests.authenticate_as_anon();
select throws_ok('select id from public.social_accounts', '42501', null, 'anon cannot read the view');
select tests.clear_authentication();

select * from tests.check_team_scoped('public.social_connections', format('id = %L', :'conn'),
    :'member', :'outsider', 'display_name', members_write => false);

-- Only the service role calls the worker's RPCs; app_private is out of reach.
select ok(not has_function_privilege('authenticated', 'public.create_oauth_state(uuid,uuid,public.social_platform,text,text,text,text,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.consume_oauth_state(text,public.social_platform,text,text,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.get_social_connection(uuid,uuid,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.claim_social_token_refresh(uuid,bigint,integer)', 'execute')
    and not has_function_privilege('authenticated', 'public.finish_social_token_refresh(uuid,uuid,boolean,text,text,text,integer,integer,text)', 'execute')
    and not has_function_privilege('anon', 'public.save_social_connection(uuid,uuid,uuid,public.social_platform,text,text,text,text,text,text,text[],text,integer,integer)', 'execute')
    and not has_function_privilege('authenticated', 'public.reseal_social_tokens(uuid,bigint,text,text,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.delete_social_connection(uuid)', 'execute'),
    'authenticated and anon cannot execute the social RPCs');
select ok(has_function_privilege('service_role', 'public.consume_oauth_state(text,public.social_platform,text,text,text)', 'execute'),
    'the service role can');
select tests.authenticate_as(:'owner');
select throws_ok(format('select public.get_social_connection(%L)', :'conn'), '42501', null,
    'a member calling the token RPC directly is refused');
select throws_ok(format($$select public.create_oauth_state(%L, %L, 'x', repeat('a', 64), 'http://x/', repeat('v', 43))$$,
    :'owner', :'team'), '42501', null, 'and cannot plant a state');
select throws_ok('select * from app_private.oauth_states', '42501', null, 'the states table is unreachable');
select tests.clear_authentication();

-- States: owners/admins start; single use; bound to platform; expire.
select tests.authenticate_as_service_role();
select is(public.create_oauth_state(:'admin', :'team', 'x', repeat('a', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
        binding_hash => repeat('1', 64)) ->> 'status',
    'created', 'an admin starts a connection');
select is(public.create_oauth_state(:'member', :'team', 'x', repeat('b', 64), 'http://127.0.0.1:3000/', repeat('v', 43)) ->> 'status',
    'forbidden', 'a plain member cannot');
select is(public.create_oauth_state(:'outsider', :'team', 'x', repeat('c', 64), 'http://127.0.0.1:3000/', repeat('v', 43)) ->> 'status',
    'not_team_member', 'an outsider cannot');
select is(public.consume_oauth_state(repeat('a', 64), 'x', binding_hash => repeat('1', 64)) - 'team_id' - 'user_id',
    jsonb_build_object('status', 'valid', 'redirect_to', 'http://127.0.0.1:3000/', 'code_verifier', repeat('v', 43)),
    'the callback gets the bound redirect and verifier');
select is(public.consume_oauth_state(repeat('a', 64), 'x') ->> 'status', 'invalid', 'a state is single use');
select public.create_oauth_state(:'owner', :'team', 'x', repeat('d', 64), 'http://127.0.0.1:3000/', repeat('v', 43));
select is(public.consume_oauth_state(repeat('d', 64), 'linkedin') ->> 'status', 'invalid',
    'a state is bound to its platform');
select is(public.consume_oauth_state(repeat('d', 64), 'x') ->> 'status', 'invalid', '… and spent by the mismatch');
select public.create_oauth_state(:'owner', :'team', 'x', repeat('e', 64), 'http://127.0.0.1:3000/', repeat('v', 43));
select tests.clear_authentication();
update app_private.oauth_states set expires_at = now() - interval '1 second' where state_hash = repeat('e', 64);
select tests.authenticate_as_service_role();
select is(public.consume_oauth_state(repeat('e', 64), 'x') ->> 'status', 'invalid', 'an expired state is refused');
select public.create_oauth_state(:'admin', :'team', 'x', repeat('f', 64), 'http://127.0.0.1:3000/', repeat('v', 43));
select tests.clear_authentication();
update public.team_members set role = 'member' where team_id = :'team' and user_id = :'admin';
select tests.authenticate_as_service_role();
select is(public.consume_oauth_state(repeat('f', 64), 'x') ->> 'status', 'forbidden',
    'a user demoted meanwhile cannot complete');
select tests.clear_authentication();
update public.team_members set role = 'admin' where team_id = :'team' and user_id = :'admin';
select tests.authenticate_as_service_role();
select throws_ok(format($$select public.create_oauth_state(%L, %L, 'x', 'not-a-hash', 'x', repeat('v', 43))$$,
    :'owner', :'team'), '23514', null, 'only SHA-256 hex state hashes are stored');

-- Who may use or remove a connection.
select is(public.get_social_connection(:'conn', :'member', 'use') ->> 'status', 'ok', 'a member may use it');
select is(public.get_social_connection(:'conn', :'member', 'remove') ->> 'status', 'forbidden',
    'a plain member who did not connect it may not remove it');
select tests.clear_authentication();
update public.team_members set role = 'member' where team_id = :'team' and user_id = :'admin';
select tests.authenticate_as_service_role();
select is(public.get_social_connection(:'conn', :'admin', 'remove') ->> 'status', 'ok',
    'the member who connected it may');
select tests.clear_authentication();
update public.team_members set role = 'admin' where team_id = :'team' and user_id = :'admin';
select tests.authenticate_as_service_role();
select is(public.get_social_connection(:'conn', :'outsider', 'use') ->> 'status', 'not_found',
    'an outsider does not learn it exists');
select ok((public.get_social_connection(:'conn') -> 'connection') ? 'encrypted_refresh_token',
    'the worker (no user) gets the sealed tokens');

-- The refresh lease: one holder per generation; new tokens and release in one statement.
select is(public.claim_social_token_refresh(:'conn', 1) ->> 'status', 'claimed', 'the first claim wins');
select is(public.claim_social_token_refresh(:'conn', 1) ->> 'status', 'busy', 'a concurrent claim waits');
select is(public.finish_social_token_refresh(:'conn', gen_random_uuid(), encrypted_access_token => 'x',
    encrypted_refresh_token => 'y', token_key_version => 'v1', access_token_expires_in => 3600), false,
    'only the lease holder stores tokens');
select is(public.finish_social_token_refresh(:'conn',
    (select refresh_lease_id from public.social_connections where id = :'conn'),
    encrypted_access_token => 'bmV3LWF0', encrypted_refresh_token => 'bmV3LXJ0', token_key_version => 'v2',
    access_token_expires_in => 7200), true, 'the holder stores the new tokens');
select is((select (token_generation, refresh_lease_id is null, encrypted_refresh_token, token_key_version,
                   access_token_expires_at > now() + interval '1 hour')::text
           from public.social_connections where id = :'conn'),
    '(2,t,bmV3LXJ0,v2,t)', 'a new generation, the lease released in the same write');
select is(public.claim_social_token_refresh(:'conn', 1) ->> 'status', 'changed',
    'a claim for the old generation reads the new tokens instead of refreshing again');
select is(public.claim_social_token_refresh(:'conn', 2) ->> 'status', 'claimed', 'the next refresh can be claimed');
select tests.clear_authentication();
update public.social_connections set refresh_lease_expires_at = now() - interval '1 second' where id = :'conn';
select tests.authenticate_as_service_role();
select is(public.claim_social_token_refresh(:'conn', 2) ->> 'status', 'claimed',
    'an expired lease (a worker died) is taken over');
select ok(public.finish_social_token_refresh(:'conn',
    (select refresh_lease_id from public.social_connections where id = :'conn'), reauth => true, error => 'invalid_grant'),
    'a refused grant ends the lease');
select is(public.claim_social_token_refresh(:'conn', 2) ->> 'status', 'reauth_required',
    'and the connection needs a new authorization');
select is((select (status, last_error)::text from public.social_accounts where id = :'conn'),
    '(reauth_required,invalid_grant)', 'which clients see');

-- Batches for the cron jobs.
select public.save_social_connection(connection_id => gen_random_uuid(), team_id => :'team', user_id => :'owner',
    platform => 'youtube', external_account_id => 'UC1', encrypted_access_token => 'YQ==', token_key_version => 'v1',
    encrypted_refresh_token => 'cg==', access_token_expires_in => 120) ->> 'id' as due \gset
select ok(public.social_connections_due() ? :'due', 'a token expiring within ten minutes is due');
-- The reauth connection's token is due too (it has a refresh token and no lease): only its
-- status can keep it off the list.
select tests.clear_authentication();
update public.social_connections set access_token_expires_at = now() + interval '2 minutes' where id = :'conn';
select is((select (status, encrypted_refresh_token is not null, refresh_lease_expires_at is null)::text
           from public.social_connections where id = :'conn'),
    '(reauth_required,t,t)', 'the reauth connection holds a refresh token, no lease, and a token due now');
select tests.authenticate_as_service_role();
select ok(not (public.social_connections_due() ? :'conn'), 'a connection needing reauthorization is not due');
select tests.clear_authentication();
update public.social_connections set status = 'active' where id = :'conn';
select tests.authenticate_as_service_role();
select ok(public.social_connections_due() ? :'conn', 'the same connection, active, is due');
select tests.clear_authentication();
update public.social_connections set status = 'reauth_required' where id = :'conn';
select tests.authenticate_as_service_role();
select ok(public.social_connections_to_reseal('v2') ? :'due' and not (public.social_connections_to_reseal('v2') ? :'conn'),
    'rows sealed with an older key are listed for re-sealing');
select ok(public.delete_social_connection(:'due'), 'the worker deletes a connection');
select tests.clear_authentication();

select * from finish();
rollback;
