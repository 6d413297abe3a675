-- Issue #26: invitations refused up front (a member's address, a full team, one already
-- pending, with their stable codes), and local wall times resolved with Postgres's tz data.
begin;
select plan(21);

select tests.create_user('ic-owner@test.local') as owner \gset
select tests.create_user('ic-member@test.local') as member \gset
select tests.create_user('ic-outsider@test.local') as outsider \gset
select tests.create_team(:'owner', 'Conflicts team') as team \gset
select tests.add_team_member(:'team', :'member');

-- The SQLSTATE and DETAIL (the stable code) a statement raised, or null.
create function tests.conflict(query text)
returns text
language plpgsql
as $$
declare
    state text;
    detail text;
begin
    execute query;
    return null;
exception when others then
    get stacked diagnostics state = returned_sqlstate, detail = pg_exception_detail;
    return state || ' ' || coalesce(detail, '');
end
$$;

-- Refused before anything is stored.
select tests.authenticate_as(:'owner');
select is(tests.conflict(format('select public.create_team_invitation(%L, %L)', :'team', ' IC-Member@Test.local')),
    'PT409 already_member', 'a member''s address, however spelled, is refused as already_member');
select is(tests.conflict(format('select public.create_team_invitation(%L, %L)', :'team', 'ic-owner@test.local')),
    'PT409 already_member', 'so is the owner''s');
select invitation_id as pending from public.create_team_invitation(:'team', 'ic-new@test.local') \gset
select is(tests.conflict(format('select public.create_team_invitation(%L, %L, %L)', :'team', 'IC-New@test.local', 'admin')),
    'PT409 invitation_pending', 'a second pending invitation to the same address is refused');
select tests.clear_authentication();
select is((select count(*)::integer from public.team_invitations where team_id = :'team'), 1,
    'only the first invitation exists');
select is((select count from app_private.rate_windows where subject = :'team' and action = 'team_invitation'), 1,
    'refused invitations do not count against the team''s window');

-- Once it is no longer pending, or has expired, the address may be invited again.
update public.team_invitations set expires_at = now() - interval '1 second' where id = :'pending';
select tests.authenticate_as(:'owner');
select invitation_id as renewed from public.create_team_invitation(:'team', 'ic-new@test.local') \gset
select tests.clear_authentication();
select is((select (status, responded_at is not null)::text from public.team_invitations where id = :'pending'),
    '(revoked,t)', 'an expired pending invitation gives way to the new one');
select is((select status::text from public.team_invitations where id = :'renewed'), 'pending',
    'and the new one is pending');
select tests.authenticate_as(:'owner');
select lives_ok(format('select public.revoke_team_invitation(%L)', :'renewed'), 'revoked');
select lives_ok(format('select public.create_team_invitation(%L, %L)', :'team', 'ic-new@test.local'),
    'a revoked invitation does not block a new one');
select tests.clear_authentication();
select throws_ok(
    format($$insert into public.team_invitations (team_id, email, token_hash, expires_at)
             values (%L, 'ic-new@test.local', '\x00', now() + interval '1 day')$$, :'team'),
    '23505', null, 'the database itself keeps one pending invitation per team and address');

-- A full team: refused up front; a free seat makes room again.
update public.teams set member_cap = 2 where id = :'team';
select tests.authenticate_as(:'owner');
select is(tests.conflict(format('select public.create_team_invitation(%L, %L)', :'team', 'ic-later@test.local')),
    'PT409 team_full', 'inviting into a full team is refused as team_full');
select tests.clear_authentication();
update public.teams set member_cap = 3 where id = :'team';
select tests.authenticate_as(:'owner');
select lives_ok(format('select public.create_team_invitation(%L, %L)', :'team', 'ic-later@test.local'),
    'with a free seat the invitation is made');

-- Local wall times.
select tests.authenticate_as(:'outsider');
select is(public.resolve_local_time('2027-06-01 09:00', 'Europe/Berlin'),
    '{"at": "2027-06-01T09:00:00+02:00", "status": "resolved"}', 'any signed-in user may resolve a summer time');
select is(public.resolve_local_time('2027-01-15 09:30', 'Europe/Berlin'),
    '{"at": "2027-01-15T09:30:00+01:00", "status": "resolved"}', 'a normal winter time');
select is(public.resolve_local_time('2027-03-28 02:30', 'Europe/Berlin'),
    '{"status": "nonexistent", "candidates": ["2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00"]}',
    'a time the spring-forward gap skips is nonexistent, with the readings before and after the jump');
select is(public.resolve_local_time('2027-10-31 02:30', 'Europe/Berlin'),
    '{"status": "ambiguous", "candidates": ["2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"]}',
    'a time the autumn overlap repeats is ambiguous, earlier first');
select is(public.resolve_local_time('2027-04-04 02:30', 'Australia/Sydney'),
    '{"status": "ambiguous", "candidates": ["2027-04-04T02:30:00+11:00", "2027-04-04T02:30:00+10:00"]}',
    'southern hemisphere: April ends daylight saving');
select is(public.resolve_local_time('2027-10-03 02:30', 'Australia/Sydney')->>'status', 'nonexistent',
    'southern hemisphere: October starts it');
select is(public.resolve_local_time('2027-03-28 02:30', 'Asia/Kolkata'),
    '{"at": "2027-03-28T02:30:00+05:30", "status": "resolved"}', 'a zone without DST, at a half-hour offset');
select is(public.resolve_local_time('2027-03-14 02:30', 'America/New_York')->>'status', 'nonexistent',
    'a negative offset zone''s gap');
select throws_ok($$select public.resolve_local_time('2027-03-28 02:30', 'Mars/Olympus')$$, '22023',
    'unknown time zone Mars/Olympus', 'an unknown zone is refused');

select * from finish();
rollback;
