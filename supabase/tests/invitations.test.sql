-- Team invitations: tokens, who may invite, look up, accept, decline and revoke, and the cap.
begin;
select plan(45);

select tests.create_user('owner@test.local', '{"display_name": "Olive Owner"}') as owner \gset
select tests.create_user('admin@test.local') as admin \gset
select tests.create_user('member@test.local') as member \gset
select tests.create_user('invitee@test.local') as invitee \gset
select tests.create_user('other@test.local') as other \gset
select tests.create_user('unverified@test.local') as unverified \gset
update auth.users set email_confirmed_at = null where id = :'unverified';

select tests.create_team(:'owner', 'Alpha') as team \gset
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');
select tests.create_team(:'other', 'Beta') as other_team \gset
-- A free seat: a full team is not invited into (invitation_conflicts_and_local_times.test.sql).
update public.teams set member_cap = 4 where id = :'team';

-- Creating.
select tests.authenticate_as(:'owner');
select invitation_id as invitation, token
from public.create_team_invitation(:'team', '  Invitee@Test.LOCAL ') \gset
select ok(:'token' ~ '^[0-9a-f]{64}$', 'the token is 256 random bits, hex-encoded');
select tests.clear_authentication();
select is(
    (select (email, role, status, invited_by, expires_at - created_at)::text
     from public.team_invitations where id = :'invitation'),
    format('(invitee@test.local,member,pending,%s,"7 days")', :'owner'),
    'the invitation stores the normalized email, role, inviter and a 7-day expiry');
select is(
    (select token_hash from public.team_invitations where id = :'invitation'),
    extensions.digest(:'token', 'sha256'), 'only the token''s SHA-256 is stored');
select is(
    (select count(*)::int from public.team_invitations as i where to_jsonb(i)::text like '%' || :'token' || '%'), 0,
    'the plaintext token is stored nowhere');

select tests.authenticate_as(:'admin');
select invitation_id as admin_invitation, token as admin_token
from public.create_team_invitation(:'team', 'second@test.local', 'admin', '1 day') \gset
select ok(:'admin_token' <> :'token', 'an admin can invite too, and every token is different');
select throws_ok(
    format('select public.create_team_invitation(%L, %L, %L)', :'team', 'x@test.local', 'owner'), '22023', null,
    'nobody can be invited as owner');
select throws_ok(
    format('select public.create_team_invitation(%L, %L, %L, %L)', :'team', 'x@test.local', 'member', '0 seconds'),
    '22023', null, 'an invitation must stay valid for at least an hour');

select tests.authenticate_as(:'member');
select throws_ok(
    format('select public.create_team_invitation(%L, %L)', :'team', 'x@test.local'), '42501',
    'only the team''s owner or an admin can invite', 'a plain member cannot invite');
select tests.authenticate_as(:'other');
select throws_ok(
    format('select public.create_team_invitation(%L, %L)', :'team', 'x@test.local'), '42501',
    'only the team''s owner or an admin can invite', 'an outsider cannot invite to the team');
select tests.authenticate_as_anon();
select throws_ok(
    format('select public.create_team_invitation(%L, %L)', :'team', 'x@test.local'), '42501', null,
    'anon cannot invite');

-- Row access: owners and admins read their team's invitations; nobody writes them directly.
select tests.check_team_scoped('public.team_invitations', format('id = %L', :'invitation'),
    :'admin', :'member', 'email', false);
select tests.check_team_scoped('public.team_invitations', format('id = %L', :'invitation'),
    :'owner', :'other', 'status', false);

-- Looking a token up.
select tests.authenticate_as(:'invitee');
select is(
    (select (team_name, invited_by_name)::text from public.get_team_invitation(:'token')), '(Alpha,"Olive Owner")',
    'a token shows the team name and the inviter');
select throws_ok(
    format('select public.get_team_invitation(%L)', repeat('0', 64)), 'P0002', 'invitation not found',
    'an unknown token shows nothing');
select tests.authenticate_as_anon();
select throws_ok(format('select public.get_team_invitation(%L)', :'token'), '42501', null,
    'anon cannot look a token up');

-- Accepting.
select tests.authenticate_as_service_role();
update public.teams set member_cap = 3 where id = :'team';
select tests.authenticate_as(:'other');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'token'), '42501',
    'this invitation was sent to a different email address', 'nobody can accept someone else''s invitation');
select tests.authenticate_as(:'invitee');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'token'), 'P0001', 'team is full (at most 3 members)',
    'accepting counts against the member cap');
select tests.authenticate_as_service_role();
update public.teams set member_cap = 4 where id = :'team';

select tests.authenticate_as(:'invitee');
select is(public.accept_team_invitation(:'token'), :'team'::uuid, 'the invitee accepts and gets the team id');
select is((select role from public.team_members where team_id = :'team' and user_id = :'invitee'), 'member',
    'accepting adds the invitee with the invited role');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'token'), 'P0001',
    'this invitation has already been accepted', 'a token works only once');
select throws_ok(
    format('select public.get_team_invitation(%L)', :'token'), 'P0001',
    'this invitation has already been accepted', 'a used token shows nothing more');
select tests.clear_authentication();
select is(
    (select (status, responded_by)::text from public.team_invitations where id = :'invitation'),
    format('(accepted,%s)', :'invitee'), 'the accepted invitation is kept, with who accepted it');
select is(
    (select array_agg(action order by id) from public.audit_log where team_id = :'team'),
    array['invitation.created', 'invitation.created', 'invitation.accepted', 'member.added'],
    'creating and accepting invitations are audited');

-- Expired, unverified, already a member (who joined after being invited).
select tests.clear_authentication();
update public.teams set member_cap = 10 where id = :'team';
select tests.create_user('late@test.local') as late \gset
select tests.authenticate_as(:'owner');
select token as expired_token from public.create_team_invitation(:'team', 'other@test.local') \gset
select token as unverified_token from public.create_team_invitation(:'team', 'unverified@test.local') \gset
select token as member_token from public.create_team_invitation(:'team', 'late@test.local') \gset
select tests.clear_authentication();
select tests.add_team_member(:'team', :'late');
update public.team_invitations set expires_at = now() - interval '1 second'
where token_hash = extensions.digest(:'expired_token', 'sha256');
select tests.authenticate_as(:'other');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'expired_token'), 'P0001', 'this invitation has expired',
    'an expired token cannot be accepted');
select tests.authenticate_as(:'unverified');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'unverified_token'), '42501',
    'confirm your email address before responding to an invitation', 'accepting requires a verified email');
select tests.authenticate_as(:'late');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'member_token'), '23505', 'you are already a member of this team',
    'a member cannot join twice');

-- Declining and revoking.
select tests.authenticate_as(:'other');
select throws_ok(
    format('select public.decline_team_invitation(%L)', :'member_token'), '42501',
    'this invitation was sent to a different email address', 'nobody can decline someone else''s invitation');
select tests.authenticate_as(:'late');
select lives_ok(format('select public.decline_team_invitation(%L)', :'member_token'), 'the invitee can decline');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'member_token'), 'P0001',
    'this invitation has already been declined', 'a declined invitation cannot be accepted');
select throws_ok(
    format('select public.revoke_team_invitation(%L)', :'admin_invitation'), 'P0002', 'invitation not found',
    'a plain member cannot revoke invitations');
select tests.authenticate_as(:'admin');
select lives_ok(format('select public.revoke_team_invitation(%L)', :'admin_invitation'),
    'an admin can revoke a pending invitation');
select throws_ok(
    format('select public.revoke_team_invitation(%L)', :'admin_invitation'), 'P0001',
    'this invitation has already been revoked', 'an invitation is revoked once');
select tests.clear_authentication();
select tests.create_user('second@test.local') as second \gset
select tests.authenticate_as(:'second');
select throws_ok(
    format('select public.accept_team_invitation(%L)', :'admin_token'), 'P0001',
    'this invitation has already been revoked', 'a revoked invitation cannot be accepted');

select tests.clear_authentication();
select is(
    (select array_agg(format('%s %s', email, status) order by email) from public.team_invitations where team_id = :'team'),
    array['invitee@test.local accepted', 'late@test.local declined', 'other@test.local pending',
          'second@test.local revoked', 'unverified@test.local pending'],
    'accepted, declined, revoked and expired (still pending) invitations are all kept');
select is(
    (select array_agg(action order by id) from public.audit_log
     where team_id = :'team' and action in ('invitation.declined', 'invitation.revoked')),
    array['invitation.declined', 'invitation.revoked'], 'declining and revoking are audited');

select * from finish();
rollback;
