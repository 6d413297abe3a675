-- Issue #17 hardening: the windowed rate limits of each action (refused attempts not counted),
-- the five-minute expiry of stale AI reservations, chat attachments bound to their uploader,
-- connection and team deletion after posts went out, OAuth flows bound to their client, and
-- invitations answerable in the app by invitees who already have an account.
begin;
select plan(45);

select tests.create_user('rl-owner@test.local') as owner \gset
select tests.create_user('rl-admin@test.local') as admin \gset
select tests.create_user('rl-member@test.local') as member \gset
select tests.create_team(:'owner', 'Limits team') as team \gset
update public.teams set member_cap = 10 where id = :'team';
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');

-- The SQLSTATE and the HINT (seconds to wait) a statement raised, or null.
create function tests.refusal(query text)
returns text
language plpgsql
as $$
declare
    state text;
    hint text;
begin
    execute query;
    return null;
exception when others then
    get stacked diagnostics state = returned_sqlstate, hint = pg_exception_hint;
    return state || ' ' || coalesce(hint, '');
end
$$;

update app_private.rate_limits set per_window = 2 where action in ('oauth_start', 'connection_verify');
update app_private.rate_limits set per_window = 1
where action in ('content_job', 'content_batch', 'invitation', 'post_submit');
update app_private.rate_limits set per_window = 2 where action = 'team_invitation';

-- OAuth start: per user, after the role check.
select tests.authenticate_as_service_role();
select is(public.create_oauth_state(:'member', :'team', 'x', repeat('0', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64)) ->> 'status', 'forbidden', 'a member may not start');
select is(public.create_oauth_state(:'owner', :'team', 'x', repeat('a', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64)) ->> 'status', 'created', 'the first start');
select is(public.create_oauth_state(:'owner', :'team', 'x', repeat('b', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64), 'app') ->> 'status', 'created', 'the second start');
select matches(
    tests.refusal(format($$select public.create_oauth_state(%L, %L, 'x', repeat('c', 64), 'http://127.0.0.1:3000/',
        repeat('v', 43), repeat('1', 64))$$, :'owner', :'team')),
    '^PR429 [0-9]+$', 'the third within ten minutes is refused with PR429 and the seconds to wait as hint');
select tests.clear_authentication();
select is((select count(*)::integer from app_private.rate_windows where subject = :'member'), 0,
    'a refused attempt (not allowed to start) is not counted');
select is((select count from app_private.rate_windows where subject = :'owner' and action = 'oauth_start'), 2,
    'nor one refused by the limit');
update app_private.rate_windows set window_start = window_start - interval '10 minutes' where subject = :'owner';
select tests.authenticate_as_service_role();
select is(public.create_oauth_state(:'owner', :'team', 'x', repeat('c', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64)) ->> 'status', 'created', 'the next window starts afresh');

-- OAuth binding. Cookie mode: only the browser holding the binding completes.
select is(public.consume_oauth_state(repeat('a', 64), 'x', repeat('2', 64)) - 'redirect_to',
    '{"status": "browser_mismatch"}', 'another browser''s callback is refused');
select is(public.consume_oauth_state(repeat('a', 64), 'x', repeat('1', 64)) ->> 'status', 'invalid',
    '… and the state is spent');
select is(public.consume_oauth_state(repeat('c', 64), 'x') ->> 'status', 'browser_mismatch',
    'a callback without the cookie is refused');
-- App mode: the callback parks the code; the app that started completes it.
select is(public.consume_oauth_state(repeat('b', 64), 'x', null, 'the-code', repeat('d', 64)),
    '{"status": "confirm", "redirect_to": "http://127.0.0.1:3000/"}', 'an app-bound callback asks for confirmation');
select is(public.take_oauth_confirmation(repeat('d', 64), repeat('1', 64), :'admin', 'x') ->> 'status', 'invalid',
    'another user cannot complete it (and spends it)');
select public.create_oauth_state(:'owner', :'team', 'x', repeat('e', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64), 'app');
select public.consume_oauth_state(repeat('e', 64), 'x', null, 'code-2', repeat('f', 64));
select is(public.take_oauth_confirmation(repeat('f', 64), repeat('2', 64), :'owner', 'x') ->> 'status', 'invalid',
    'nor the same user without the binding');
select tests.clear_authentication();
update app_private.rate_windows set window_start = window_start - interval '10 minutes' where subject = :'owner';
select tests.authenticate_as_service_role();
select public.create_oauth_state(:'owner', :'team', 'x', repeat('9', 64), 'http://127.0.0.1:3000/', repeat('v', 43),
    repeat('1', 64), 'app');
select public.consume_oauth_state(repeat('9', 64), 'x', null, 'code-3', repeat('8', 64));
select is(public.take_oauth_confirmation(repeat('8', 64), repeat('1', 64), :'owner', 'x') - 'team_id' - 'user_id',
    jsonb_build_object('status', 'valid', 'redirect_to', 'http://127.0.0.1:3000/', 'code_verifier', repeat('v', 43),
        'authorization_code', 'code-3'), 'the starting app completes with the code');
select is(public.take_oauth_confirmation(repeat('8', 64), repeat('1', 64), :'owner', 'x') ->> 'status', 'invalid',
    'once');

-- Connection verification: through the worker's take_rate_limit RPC, service role only.
select ok(public.take_rate_limit(:'member', 'connection_verify') and public.take_rate_limit(:'member', 'connection_verify'),
    'two verifications');
select throws_ok(format($$select public.take_rate_limit(%L, 'connection_verify')$$, :'member'), 'PR429', null,
    'a third is refused');
select tests.clear_authentication();
select ok(not has_function_privilege('authenticated', 'public.take_rate_limit(uuid,text)', 'execute')
    and not has_function_privilege('anon', 'public.take_rate_limit(uuid,text)', 'execute'),
    'clients cannot spend (or probe) limits');

-- Content jobs and batches: per user; an idempotent replay is not counted.
insert into public.campaigns (team_id, name) values (:'team', 'Launch') returning id as campaign \gset
select tests.authenticate_as_service_role();
select is(public.create_content_job(:'member', '{"prompt": "x"}', '[{"kind": "draft"}]', team_id => :'team',
    idempotency_key => 'k1', request_hash => 'h') ->> 'status', 'created', 'a job');
select is(public.create_content_job(:'member', '{"prompt": "x"}', '[{"kind": "draft"}]', team_id => :'team',
    idempotency_key => 'k1', request_hash => 'h') ->> 'status', 'existing', 'its replay is answered, not counted');
select throws_ok(format($$select public.create_content_job(%L, '{"prompt": "y"}', '[{"kind": "draft"}]')$$, :'member'),
    'PR429', null, 'a second job within the window is refused');
select is(public.create_content_batch(:'member', :'campaign', 2,
    '[{"brief": {"prompt": "a"}, "chain": [{"kind": "draft"}]}, {"brief": {"prompt": "b"}, "chain": [{"kind": "draft"}]}]')
    ->> 'status', 'created', 'a batch (its jobs count as the batch)');
select throws_ok(format($$select public.create_content_batch(%L, %L, 1, '[{"brief": {}, "chain": [{"kind": "draft"}]}]')$$,
    :'member', :'campaign'), 'PR429', null, 'a second batch within the hour is refused');
select tests.clear_authentication();
select is((select count(*)::integer from public.content_jobs where user_id = :'member'), 3,
    'nothing of the refused requests was written');

-- Invitations: per inviter and per team, after the role check.
select tests.authenticate_as(:'member');
select throws_ok($$select public.create_team_invitation('$$ || :'team' || $$', 'x@test.local')$$, '42501', null,
    'a member may not invite');
select tests.authenticate_as(:'owner');
select lives_ok($$select public.create_team_invitation('$$ || :'team' || $$', 'rl-invitee@test.local')$$,
    'the owner invites');
select throws_ok($$select public.create_team_invitation('$$ || :'team' || $$', 'y@test.local')$$, 'PR429', null,
    'a second invitation within the hour is refused');
select tests.authenticate_as(:'admin');
select lives_ok($$select public.create_team_invitation('$$ || :'team' || $$', 'z@test.local')$$,
    'another admin has their own allowance (the member''s refusal counted for nobody)');
select tests.clear_authentication();
update app_private.rate_windows set window_start = window_start - interval '1 hour' where action = 'invitation';
select tests.authenticate_as(:'owner');
select throws_ok($$select public.create_team_invitation('$$ || :'team' || $$', 'w@test.local')$$, 'PR429', null,
    'the team''s daily allowance is shared by its inviters');

-- An invitee who has an account finds the invitation in the app and answers it by id.
select tests.clear_authentication();
select tests.create_user('rl-invitee@test.local') as invitee \gset
select tests.authenticate_as(:'invitee');
select is((select array_agg(team_name) from public.my_team_invitations()), array['Limits team'],
    'the invitee sees the invitation sent to their address');
select is(public.respond_to_team_invitation((select invitation_id from public.my_team_invitations()), true),
    :'team'::uuid, 'and accepts it by id');
select tests.authenticate_as(:'admin');
select is((select count(*)::integer from public.my_team_invitations()), 0, 'nobody else sees it');
select throws_ok(format('select public.respond_to_team_invitation(%L, true)',
    (select id from public.team_invitations where email = 'z@test.local')), '42501', null,
    'nor answers another address''s invitation');

-- Posts scheduled or published: per team (submit_post is the only writer of scheduled_at).
select tests.clear_authentication();
select tests.authenticate_as_service_role();
select public.save_social_connection(connection_id => gen_random_uuid(), team_id => :'team', user_id => :'owner',
    platform => 'x', external_account_id => 'rl-1', encrypted_access_token => 'YQ==', token_key_version => 'v1',
    handle => 'pixa_rl') ->> 'id' as conn \gset
select tests.clear_authentication();
insert into public.scheduled_posts (team_id, body) values (:'team', 'One') returning id as post_one \gset
insert into public.scheduled_posts (team_id, body) values (:'team', 'Two') returning id as post_two \gset
insert into public.post_destinations (post_id, team_id, connection_id) values (:'post_one', :'team', :'conn')
    returning id as published \gset
insert into public.post_destinations (post_id, team_id, connection_id) values (:'post_two', :'team', :'conn')
    returning id as scheduled \gset
select is((select (platform, account_name)::text from public.post_destinations where id = :'published'), '(x,pixa_rl)',
    'a destination remembers its platform and account');
update public.scheduled_posts set scheduled_at = now() where id = :'post_one';
select throws_ok(format('update public.scheduled_posts set scheduled_at = now() where id = %L', :'post_two'), 'PR429',
    null, 'a second submission within the window is refused');

-- Deleting a connection that posts went to (and one scheduled): history stays, waiting ones end.
update app_private.rate_limits set per_window = 100 where action = 'post_submit';
update public.post_destinations set status = 'published', published_at = now() where id = :'published';
update public.post_destinations set status = 'publishing' where id = :'scheduled';
select tests.authenticate_as_service_role();
select throws_ok(format('select public.delete_social_connection(%L)', :'conn'), 'P0001', null,
    'a connection is not deleted while a post is being published with it');
select tests.clear_authentication();
update public.post_destinations set status = 'scheduled', next_attempt_at = now() + interval '1 hour'
where id = :'scheduled';
select tests.authenticate_as_service_role();
select ok(public.delete_social_connection(:'conn'), 'a connection used by a published post is deleted');
select tests.clear_authentication();
select is((select (connection_id, status, platform, account_name)::text from public.post_destinations where id = :'published'),
    '(,published,x,pixa_rl)', 'the published destination keeps its history');
select is((select (status, error_code)::text from public.post_destinations where id = :'scheduled'),
    '(canceled,connection_deleted)', 'the scheduled one is canceled');
select throws_ok(format('update public.post_destinations set status = %L where id = %L', 'scheduled', :'scheduled'),
    '23503', null, 'and cannot be scheduled again without a connection');

-- Deleting a team with connections, posts and publishing history.
select tests.authenticate_as_service_role();
select public.save_social_connection(connection_id => gen_random_uuid(), team_id => :'team', user_id => :'owner',
    platform => 'linkedin', external_account_id => 'rl-2', encrypted_access_token => 'YQ==', token_key_version => 'v1')
    ->> 'id' as conn_two \gset
select tests.clear_authentication();
insert into public.post_destinations (post_id, team_id, connection_id, status, published_at)
values (:'post_one', :'team', :'conn_two', 'published', now());
select lives_ok(format('delete from public.teams where id = %L', :'team'), 'a team with posts can be deleted');

-- Stale AI reservations: expired every five minutes, without the monthly reset's bookkeeping.
select ok(exists (select from cron.job where jobname = 'ai-reservations-expire' and schedule = '*/5 * * * *'
                  and command like '%expire_stale_ai_reservations%'),
    'pg_cron expires stale reservations every five minutes');
insert into public.ai_credit_ledger (subject_id, period, allowance, reserved)
values (:'owner', app_private.ai_current_period(), 100, 7);
insert into public.ai_requests (user_id, subject_id, period, endpoint, status, reserved_credits, created_at)
values (:'owner', :'owner', app_private.ai_current_period(), 'text', 'reserved', 5, now() - interval '16 minutes'),
       (:'owner', :'owner', app_private.ai_current_period(), 'text', 'reserved', 2, now() - interval '1 minute');
delete from app_private.ai_credit_resets where period = app_private.ai_current_period();
select is(app_private.expire_stale_ai_reservations(), 1, 'a reservation older than fifteen minutes expires');
select is((select reserved from public.ai_credit_ledger where subject_id = :'owner'), 2::bigint,
    'its credits are freed and the fresh one''s kept');
select ok(not exists (select from app_private.ai_credit_resets where period = app_private.ai_current_period()),
    'the monthly reset is not recorded by the expiry');

select * from finish();
rollback;
