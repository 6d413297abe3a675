-- Publishing: drafts written by members, the approval gate, scheduling, cancel and retry, the
-- dispatcher's claim/lease/intent/outcome protocol, and who may do what.
begin;
select plan(50);

select tests.create_user('pub-owner@test.local') as owner \gset
select tests.create_user('pub-member@test.local') as member \gset
select tests.create_user('pub-outsider@test.local') as outsider \gset
select tests.create_team(:'owner', 'Publishing team') as team \gset
select tests.create_team(:'outsider', 'Other team') as other_team \gset
select tests.add_team_member(:'team', :'member');

insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', 'x-1', 'sealed', 'v1'),
       (gen_random_uuid(), :'team', 'linkedin', 'li-1', 'sealed', 'v1'),
       (gen_random_uuid(), :'other_team', 'x', 'x-2', 'sealed', 'v1');
select id as x_account from public.social_connections where external_account_id = 'x-1' \gset
select id as linkedin_account from public.social_connections where external_account_id = 'li-1' \gset
select id as foreign_account from public.social_connections where external_account_id = 'x-2' \gset

-- Drafts: members write them; state columns are the worker's.
select tests.authenticate_as(:'member');
insert into public.scheduled_posts (team_id, client_post_id, body) values (:'team', 'client-1', 'Hello') ;
select id as post from public.scheduled_posts where client_post_id = 'client-1' \gset
select is((select created_by from public.scheduled_posts where id = :'post'), :'member'::uuid,
    'the author is the caller');
select throws_ok($$insert into public.scheduled_posts (team_id, client_post_id, body)
                   values ('$$ || :'team' || $$', 'client-1', 'again')$$, '23505', null,
    'a client post id is used once per team');
select throws_ok($$update public.scheduled_posts set approval_status = 'approved'$$, '42501', null,
    'members cannot approve by writing the column');
insert into public.post_destinations (post_id, team_id, connection_id, options)
values (:'post', :'team', :'x_account', '{"replySettings": "following"}'),
       (:'post', :'team', :'linkedin_account', '{"visibility": "PUBLIC"}');
select throws_ok($$insert into public.post_destinations (post_id, team_id, connection_id)
                   values ('$$ || :'post' || $$', '$$ || :'team' || $$', '$$ || :'foreign_account' || $$')$$,
    '23503', null, 'a destination cannot use another team''s account');
select throws_ok($$update public.post_destinations set status = 'published'$$, '42501', null,
    'members cannot set a destination''s status');

select tests.authenticate_as(:'outsider');
select is_empty($$select from public.scheduled_posts where id = '$$ || :'post' || $$'$$,
    'outsiders cannot see the post');
select is_empty($$select from public.post_destinations where post_id = '$$ || :'post' || $$'$$,
    'nor its destinations');
select is(tests.rows_affected($$update public.scheduled_posts set body = 'hijacked' where id = '$$ || :'post' || $$'$$),
    0, 'nor edit it');
select tests.clear_authentication();

-- The RPCs are the worker's (service role) alone.
select ok(not has_function_privilege('authenticated', 'public.submit_post(uuid,uuid,timestamptz,text,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.claim_due_destinations(integer,integer,uuid)', 'execute')
    and not has_function_privilege('anon', 'public.finish_publish_attempt(uuid,uuid,text,text,integer,text,text,text,text,integer,integer,integer)', 'execute')
    and has_function_privilege('service_role', 'public.review_post(uuid,uuid,boolean,text)', 'execute'),
    'only the service role calls the publishing RPCs');

-- The worker is called for a post as soon as it is due (see request_post_publishing).
delete from vault.secrets where name in ('worker_url', 'cron_secret');
select vault.create_secret('http://worker.test', 'worker_url');
select vault.create_secret('cron-secret-test', 'cron_secret');
create temporary view publishing_calls as
    select url from net.http_request_queue where url like 'http://worker.test/v1/cron/publish%';

-- Approval: a team that requires it holds plain members' posts for review.
update public.teams set requires_post_approval = true where id = :'team';
select is(public.submit_post(:'outsider', :'post', now() + interval '1 hour', 'Europe/Berlin', app_private.post_fingerprint(:'post')) ->> 'status',
    'not_found', 'an outsider cannot submit the post');
select throws_ok($$select public.submit_post('$$ || :'member' || $$', '$$ || :'post' || $$', now(), 'Mars/Olympus', null)$$,
    '22023', null, 'an unknown time zone is refused');
select is(public.submit_post(:'member', :'post', now() + interval '1 hour', 'Europe/Berlin', app_private.post_fingerprint(:'post')) ->> 'status',
    'pending_approval', 'a member''s post waits for approval');
select is((select array_agg(distinct status)::text from public.post_destinations where post_id = :'post'),
    '{pending_approval}', 'every destination waits');
select tests.authenticate_as(:'member');
select throws_like($$update public.scheduled_posts set body = 'changed after submitting' where id = '$$ || :'post' || $$'$$,
    '%post_not_editable%', 'a submitted post cannot be edited (409 post_not_editable)');
select tests.clear_authentication();
select is(public.review_post(:'member', :'post', true) ->> 'status', 'forbidden', 'members cannot approve');
select is(public.review_post(:'owner', :'post', false, 'Tone it down') ->> 'status', 'rejected', 'the owner rejects');
select is((select (approval_status, review_comment)::text from public.scheduled_posts where id = :'post'),
    '(rejected,"Tone it down")', 'with a comment');
select is((select array_agg(distinct status)::text from public.post_destinations where post_id = :'post'),
    '{draft}', 'a rejected post is a draft again');
select is(public.submit_post(:'member', :'post', now() - interval '1 minute', 'Europe/Berlin', app_private.post_fingerprint(:'post')) ->> 'status',
    'pending_approval', 'resubmitted');
select is((select count(*)::int from publishing_calls), 0, 'nothing due: the worker is not called');
select is(public.review_post(:'owner', :'post', true) ->> 'status', 'approved', 'the owner approves');
select is((select array_agg(distinct status)::text from public.post_destinations where post_id = :'post'),
    '{scheduled}', 'approved destinations are scheduled');
select is((select array_agg(url) from publishing_calls), array['http://worker.test/v1/cron/publish?post_id=' || :'post'],
    'an approved post whose time has passed is published at once, in a call for that post');
select is(public.review_post(:'owner', :'post', true) ->> 'status', 'not_pending', 'approving twice does nothing');

-- The dispatcher: claim under a lease, intent, outcome.
select tests.authenticate_as_service_role();
create temporary table claimed on commit drop as
    select (c ->> 'destination_id')::uuid as id, (c ->> 'lease_id')::uuid as lease, c ->> 'platform' as platform,
           (c ->> 'ambiguous')::boolean as ambiguous, c -> 'connection' as connection
    from jsonb_array_elements(public.claim_due_destinations(10, 60)) as c;
select is((select count(*)::int from claimed), 2, 'both due destinations are claimed');
select ok((select bool_and(connection ? 'encrypted_access_token' and connection ? 'access_token_expires_in'
                           and not connection ? 'refresh_lease_id') from claimed),
    'each claimed destination carries its connection with sealed tokens, never the refresh lease id');
select is(jsonb_array_length(public.claim_due_destinations(10, 60)), 0,
    'a second dispatcher finds nothing while the leases hold');
select id as x_destination, lease as x_lease from claimed where platform = 'x' \gset
select id as li_destination, lease as li_lease from claimed where platform = 'linkedin' \gset
select is(public.begin_publish_attempt(:'x_destination', gen_random_uuid(), 'req-0'), null,
    'an attempt without the lease is refused');
select is(public.begin_publish_attempt(:'x_destination', :'x_lease', 'req-1'), 1, 'the intent is recorded');
select is(public.finish_publish_attempt(:'x_destination', :'x_lease', 'published', 'req-1', 201, '1799',
        'https://x.com/i/status/1799', duration_ms => 120)::text,
    'published', 'the outcome is recorded');
select is(public.finish_publish_attempt(:'x_destination', :'x_lease', 'failed', 'req-1')::text, null,
    'a finished attempt cannot be finished again');
select is(public.begin_publish_attempt(:'li_destination', :'li_lease', 'req-2'), 1, 'second destination starts');
select is(public.finish_publish_attempt(:'li_destination', :'li_lease', 'retry', 'req-2', 503,
        error_code => 'platform_unavailable', retry_in_ms => 0)::text,
    'scheduled', 'proven not posted: scheduled again');

-- A dispatcher that dies after recording its intent: its lease expires and the destination
-- comes back as ambiguous (never silently reposted).
select (c ->> 'lease_id')::uuid as li_lease from jsonb_array_elements(public.claim_due_destinations(10, 60)) as c \gset
select is(public.begin_publish_attempt(:'li_destination', :'li_lease', 'req-3'), 2, 'the retry starts');
update public.post_destinations set lease_expires_at = now() - interval '1 second' where id = :'li_destination';
select c ->> 'ambiguous' as ambiguous, (c ->> 'lease_id')::uuid as li_lease
from jsonb_array_elements(public.claim_due_destinations(10, 60)) as c \gset
select is(:'ambiguous'::text, 'true', 'an expired lease after an intent is handed out as ambiguous');
select is(public.finish_publish_attempt(:'li_destination', :'li_lease', 'unconfirmed', 'req-4',
        error_code => 'outcome_unknown')::text,
    'unconfirmed', 'and recorded as unconfirmed when the platform cannot be asked');
select is((select array_agg(event order by id)::text from public.publish_events where destination_id = :'li_destination'),
    '{attempt_started,retry_scheduled,attempt_started,unconfirmed}', 'every step is in the history');
select ok(public.publishing_slot(:'linkedin_account', 2, 3600) between 3590 and 3600,
    'a full posting window says when its oldest attempt leaves it');
select is(public.publishing_slot(:'linkedin_account', 3, 3600), 0, 'a window with room lets the post go now');

-- Retry and cancel.
select is(public.retry_post(:'member', :'post') ->> 'status', 'nothing_to_retry',
    'unconfirmed destinations are not retried unless asked');
select is(public.retry_post(:'member', :'post', include_unconfirmed => true) ->> 'status', 'retrying',
    'the author confirms and retries');
select is(public.retry_post(:'member', :'post', include_unconfirmed => true) ->> 'status', 'nothing_to_retry',
    'a second retry finds nothing to do');
select is(public.cancel_post(:'outsider', :'post') ->> 'status', 'not_found', 'outsiders cannot cancel');
select is(public.cancel_post(:'member', :'post') ->> 'status', 'canceled', 'the author cancels what is scheduled');
select is((select array_agg(status order by status)::text from public.post_destinations where post_id = :'post'),
    '{published,canceled}', 'the published destination stays published');
select is(public.submit_post(:'owner', :'post', now(), 'UTC', null) ->> 'status', 'not_editable',
    'a post that went out cannot be rescheduled');
select tests.clear_authentication();

select tests.authenticate_as(:'member');
select is((select count(*)::int from public.publish_events where post_id = :'post'), 8,
    'members read their team''s publishing history');
select tests.authenticate_as(:'outsider');
select is_empty($$select from public.publish_events where post_id = '$$ || :'post' || $$'$$,
    'outsiders do not');
select tests.clear_authentication();

-- Across a DST change: Berlin moves from 02:00 to 03:00 on 2027-03-28. 03:30 local that day
-- (CEST, +02:00) is 01:30 UTC, whatever zone the session is in; the post keeps its zone for
-- display and is due at that instant.
set local timezone = 'America/New_York';
select tests.authenticate_as(:'owner');
insert into public.scheduled_posts (team_id, client_post_id, body) values (:'team', 'client-dst', 'Spring forward');
select id as dst_post from public.scheduled_posts where client_post_id = 'client-dst' \gset
insert into public.post_destinations (post_id, team_id, connection_id) values (:'dst_post', :'team', :'x_account');
select tests.clear_authentication();
select is(public.submit_post(:'owner', :'dst_post', '2027-03-28 03:30'::timestamp at time zone 'Europe/Berlin',
        'Europe/Berlin', app_private.post_fingerprint(:'dst_post')) ->> 'status',
    'scheduled', 'the owner schedules 03:30 Berlin time on the day clocks go forward');
select is((select (to_char(p.scheduled_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI'),
                   to_char(p.scheduled_at at time zone p.timezone, 'HH24:MI'), p.timezone,
                   d.next_attempt_at = timestamptz '2027-03-28 01:30:00+00')::text
           from public.scheduled_posts as p join public.post_destinations as d on d.post_id = p.id
           where p.id = :'dst_post'),
    '("2027-03-28 01:30",03:30,Europe/Berlin,t)',
    'stored as 01:30 UTC (CEST), shown as 03:30 in the post''s zone, and due at that instant');
reset timezone;

select * from finish();
rollback;
