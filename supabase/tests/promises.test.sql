-- README promises about publishing, pinned: a member cannot skip the checks by writing a
-- scheduled destination directly, only the author (or an owner/admin) edits a draft, and a
-- destination that keeps failing is given up after 5 attempts.
begin;
select plan(11);

select tests.create_user('promise-owner@test.local') as owner \gset
select tests.create_user('promise-author@test.local') as author \gset
select tests.create_user('promise-other@test.local') as other \gset
select tests.create_team(:'owner', 'Promises team') as team \gset
select tests.add_team_member(:'team', :'author');
select tests.add_team_member(:'team', :'other');
insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', 'promise-x', 'sealed', 'v1');
select id as account from public.social_connections where external_account_id = 'promise-x' \gset

select tests.authenticate_as(:'author');
insert into public.scheduled_posts (team_id, client_post_id, body) values (:'team', 'promise-1', 'Draft text');
select id as post from public.scheduled_posts where client_post_id = 'promise-1' \gset

-- Scheduling goes through the worker (rules, moderation, approval): a member cannot insert a
-- destination that is already scheduled, nor one with a due time, and nothing becomes due.
select throws_ok(format($$insert into public.post_destinations (post_id, team_id, connection_id, status)
                          values (%L, %L, %L, 'scheduled')$$, :'post', :'team', :'account'),
    '42501', null, 'a member cannot insert a destination as scheduled');
select throws_ok(format($$insert into public.post_destinations (post_id, team_id, connection_id, next_attempt_at)
                          values (%L, %L, %L, now())$$, :'post', :'team', :'account'),
    '42501', null, 'nor give a destination a due time');
select lives_ok(format($$insert into public.post_destinations (post_id, team_id, connection_id)
                         values (%L, %L, %L)$$, :'post', :'team', :'account'),
    'the same member adds the destination as a draft');
select is((select (status, next_attempt_at)::text from public.post_destinations where post_id = :'post'),
    '(draft,)', 'which stays a draft with no due time');

-- Drafts are edited by their author (or an owner/admin), not by any member.
select tests.authenticate_as(:'other');
select is(tests.rows_affected(format($$update public.scheduled_posts set body = 'Rewritten' where id = %L$$, :'post')),
    0, 'another member cannot edit someone else''s draft');
select is(tests.rows_affected(format($$delete from public.scheduled_posts where id = %L$$, :'post')),
    0, 'nor delete it');
select tests.authenticate_as(:'author');
select is(tests.rows_affected(format($$update public.scheduled_posts set body = 'Edited' where id = %L$$, :'post')),
    1, 'the author can');
select tests.clear_authentication();
select is((select body from public.scheduled_posts where id = :'post'), 'Edited', 'and only the author''s edit stuck');

-- 5 attempts, each proven not posted (a retry): the 5th gives the destination up.
update public.post_destinations set status = 'scheduled', next_attempt_at = now() where post_id = :'post';
select id as destination from public.post_destinations where post_id = :'post' \gset
-- One dispatcher pass over the post: claim, record the intent, the platform answers 503.
create function pg_temp.attempt_and_retry(post uuid)
returns text
language plpgsql
as $$
declare
    claimed jsonb := public.claim_due_destinations(10, 60, post);
    destination uuid := (claimed -> 0 ->> 'destination_id')::uuid;
    lease uuid := (claimed -> 0 ->> 'lease_id')::uuid;
    attempt integer;
begin
    if jsonb_array_length(claimed) <> 1 then
        return format('claimed %s destinations', jsonb_array_length(claimed));
    end if;
    attempt := public.begin_publish_attempt(destination, lease, 'promise-req');
    return attempt || ':' || public.finish_publish_attempt(destination, lease, 'retry', 'promise-req', 503,
        error_code => 'platform_unavailable', retry_in_ms => 0);
end
$$;
select tests.authenticate_as_service_role();
select is((select array_agg(pg_temp.attempt_and_retry(:'post') order by i) from generate_series(1, 5) as i),
    array['1:scheduled', '2:scheduled', '3:scheduled', '4:scheduled', '5:failed'],
    'attempts 1 to 4 are scheduled again; the 5th fails the destination');
select is(public.claim_due_destinations(10, 60, :'post'), '[]'::jsonb, 'and no 6th attempt is claimed');
select tests.clear_authentication();
select is((select (status, attempts, error_code, next_attempt_at)::text from public.post_destinations
           where id = :'destination'),
    '(failed,5,retries_exhausted,)', 'failed after 5 attempts, with why, and never due again');

select * from finish();
rollback;
