-- Teams and members: creation, roles, escalation attempts, the member cap, ownership.
begin;
select plan(62);

select tests.create_user('owner@test.local', '{"display_name": "Olive Owner"}') as owner \gset
select tests.create_user('admin@test.local') as admin \gset
select tests.create_user('member@test.local') as member \gset
select tests.create_user('other@test.local') as other \gset
select tests.create_user('newcomer@test.local') as newcomer \gset

select tests.create_team(:'owner', 'Alpha') as team \gset
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');
select tests.create_team(:'other', 'Beta') as other_team \gset

-- Creation.
select is(
    (select (t.name, t.created_by, t.member_cap, t.member_count)::text from public.teams as t where t.id = :'team'),
    format('(Alpha,%s,3,3)', :'owner'),
    'create_team() records the creator; the cap defaults to 3 and member_count follows the members');
select is(
    (select role from public.team_members where team_id = :'team' and user_id = :'owner'), 'owner',
    'the creator is the team''s owner');
select tests.authenticate_as_anon();
select throws_ok($$ select public.create_team('Anon team') $$, '42501', null, 'anon cannot create a team');
select tests.clear_authentication();

-- Row access.
select tests.check_team_scoped('public.teams', format('id = %L', :'team'), :'member', :'other', 'name', false);
select tests.check_team_scoped('public.team_members',
    format('team_id = %L and user_id = %L', :'team', :'owner'), :'member', :'other', 'role', false);

select tests.authenticate_as(:'member');
select is(
    (select array_agg(user_id order by user_id) from public.team_members),
    (select array_agg(u order by u) from unnest(array[:'owner', :'admin', :'member']::uuid[]) as u),
    'a member sees exactly their team''s members');
select is(tests.rows_affected(format('update public.teams set name = %L where id = %L', 'Renamed', :'team')), 0,
    'a plain member cannot rename the team');
select is(tests.rows_affected(format('delete from public.teams where id = %L', :'team')), 0,
    'a plain member cannot delete the team');
select throws_ok(
    format('update public.teams set member_cap = 100 where id = %L', :'team'), '42501', null,
    'clients cannot raise the member cap');
select throws_ok(
    format('insert into public.team_members (team_id, user_id, role) values (%L, %L, %L)', :'other_team', :'member', 'owner'),
    '42501', null, 'clients cannot insert memberships directly');
select ok(
    (select count(*) = 1 from public.profiles where id = :'owner' and display_name = 'Olive Owner'),
    'a member can read a teammate''s profile');
select tests.authenticate_as(:'other');
select is((select count(*)::int from public.profiles where id = :'member'), 0,
    'nobody reads the profile of someone they share no team with');

select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('update public.teams set name = %L where id = %L', 'Alpha Team', :'team')), 1,
    'an admin can rename the team');
select is(tests.rows_affected(format('delete from public.teams where id = %L', :'team')), 0,
    'an admin cannot delete the team');

-- Escalation attempts.
select tests.authenticate_as(:'member');
select throws_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'team', :'member', 'admin'), '42501',
    'only the team''s owner or an admin can change roles', 'a member cannot promote themself to admin');
select throws_ok(
    format('select public.transfer_team_ownership(%L, %L)', :'team', :'member'), '42501',
    'only the team''s owner can transfer ownership', 'a member cannot make themself the owner');
select throws_ok(
    format('select public.remove_team_member(%L, %L)', :'team', :'admin'), '42501',
    'only the team''s owner or an admin can remove members', 'a member cannot remove another member');

select tests.authenticate_as(:'admin');
select throws_ok(
    format('select public.remove_team_member(%L, %L)', :'team', :'owner'), '42501',
    'the owner cannot be removed', 'an admin cannot remove the owner');
select throws_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'team', :'owner', 'member'), '42501',
    'the owner''s role changes only by transferring ownership', 'an admin cannot demote the owner');
select throws_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'team', :'admin', 'owner'), '42501',
    'use transfer_team_ownership() to make someone the owner', 'an admin cannot make themself the owner');
select throws_ok(
    format('select public.transfer_team_ownership(%L, %L)', :'team', :'admin'), '42501',
    'only the team''s owner can transfer ownership', 'an admin cannot take ownership');
select throws_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'other_team', :'other', 'member'), '42501',
    'only the team''s owner or an admin can change roles', 'an admin of one team has no say in another');

-- Managing members.
select lives_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'team', :'member', 'admin'),
    'an admin can promote a member to admin');
select tests.clear_authentication();
select is((select role::text from public.team_members where team_id = :'team' and user_id = :'member'), 'admin',
    'the promoted member is an admin');
select tests.authenticate_as(:'admin');
select lives_ok(
    format('select public.update_team_member_role(%L, %L, %L)', :'team', :'member', 'member'),
    'an admin can demote an admin to member');
select tests.clear_authentication();
select is((select role::text from public.team_members where team_id = :'team' and user_id = :'member'), 'member',
    'the demoted admin is a member again');

-- The member cap (the concurrent case is in team_cap_concurrency.test.sql).
select throws_ok(
    format('select tests.add_team_member(%L, %L)', :'team', :'newcomer'), 'P0001',
    'team is full (at most 3 members)', 'a fourth member is refused at the default cap of 3');

select tests.authenticate_as(:'member');
select lives_ok(format('select public.remove_team_member(%L, %L)', :'team', :'member'), 'a member can leave');
select is((select count(*)::int from public.teams where id = :'team'), 0,
    'someone who left sees the team no more');
select tests.clear_authentication();
select is((select member_count from public.teams where id = :'team'), 2, 'leaving frees a seat');
select lives_ok(format('select tests.add_team_member(%L, %L)', :'team', :'newcomer'), 'the freed seat can be taken');

select tests.authenticate_as_service_role();
update public.teams set member_cap = 4 where id = :'team';
select tests.clear_authentication();
select lives_ok(format('select tests.add_team_member(%L, %L)', :'team', :'member'),
    'a raised cap admits more members');

select tests.authenticate_as(:'admin');
select lives_ok(format('select public.remove_team_member(%L, %L)', :'team', :'newcomer'),
    'an admin can remove a member');

-- Supabase Auth deleting a member's account (as supabase_auth_admin) ends the membership.
select tests.clear_authentication();
select tests.create_user('gone@test.local') as gone \gset
select tests.add_team_member(:'team', :'gone');
set local role supabase_auth_admin;
delete from auth.users where id = :'gone';
reset role;
select is((select member_count from public.teams where id = :'team'), 3,
    'deleting a member''s account removes the membership and frees the seat');

-- Ownership transfer.
select tests.authenticate_as(:'owner');
select throws_ok(
    format('select public.transfer_team_ownership(%L, %L)', :'team', :'newcomer'), 'P0002', null,
    'ownership cannot go to a non-member');
select throws_ok(
    format('select public.remove_team_member(%L, %L)', :'team', :'owner'), '42501',
    'the owner cannot be removed', 'the owner cannot leave without transferring ownership');
select lives_ok(format('select public.transfer_team_ownership(%L, %L)', :'team', :'admin'),
    'the owner can transfer ownership to a member');
select tests.clear_authentication();
select is(
    (select array_agg(role::text order by role) from public.team_members
     where team_id = :'team' and user_id in (:'owner', :'admin')),
    array['owner', 'admin'], 'the new owner owns the team and the previous owner is an admin');
select is((select count(*)::int from public.team_members where team_id = :'team' and role = 'owner'), 1,
    'the team still has exactly one owner');

-- The audit trail of all that, readable by owners and admins only.
select is(
    (select array_agg(action order by id) from public.audit_log where team_id = :'team'),
    array['member.role_changed', 'member.role_changed', 'member.left', 'member.removed', 'ownership.transferred'],
    'role changes, leaving, removal and the transfer are audited in order');
select is(
    (select (actor_id, target_user_id, details)::text from public.audit_log
     where team_id = :'team' and action = 'ownership.transferred'),
    format('(%s,%s,"{""to"": ""%s"", ""from"": ""%s""}")', :'owner', :'admin', :'admin', :'owner'),
    'the audit entry records who did what to whom');
select tests.check_team_scoped('public.audit_log', format('team_id = %L and action = %L', :'team', 'member.left'),
    :'owner', :'member', 'action', false);

-- Backstops below the RPCs: one owner at most, and never none.
select throws_ok(
    format('select tests.add_team_member(%L, %L, %L)', :'other_team', :'owner', 'owner'), '23505', null,
    'a team cannot get a second owner');
set constraints all immediate;
select throws_ok(
    format('update public.team_members set role = %L where team_id = %L and user_id = %L', 'admin', :'team', :'admin'),
    'P0001', format('team %s would have no owner', :'team'), 'a team cannot be left without an owner');
select throws_ok(
    format('delete from auth.users where id = %L', :'other'), 'P0001', format('team %s would have no owner', :'other_team'),
    'the account of a team''s owner cannot be deleted while they own it');

select tests.authenticate_as(:'owner');
select is(tests.rows_affected(format('delete from public.teams where id = %L', :'team')), 0,
    'a former owner (now admin) cannot delete the team');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('delete from public.teams where id = %L', :'team')), 1,
    'the owner can delete the team');

select * from finish();
rollback;
