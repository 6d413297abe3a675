begin;
select plan(22);

select tests.create_user('alice@test.local', '{"display_name": "  Alice A  "}') as alice \gset
select tests.create_user('bob@test.local', '{"full_name": "Bob B"}') as bob \gset
select tests.create_user('carol.c@test.local') as carol \gset

-- Sign-up creates the profile.
select is(
    (select count(*)::int from public.profiles where id in (:'alice', :'bob', :'carol')), 3,
    'a profile is created for every new user');
select is(
    (select display_name from public.profiles where id = :'alice'), 'Alice A',
    'display name comes from display_name metadata, trimmed');
select is(
    (select display_name from public.profiles where id = :'bob'), 'Bob B',
    'display name falls back to full_name metadata');
select is(
    (select display_name from public.profiles where id = :'carol'), 'carol.c',
    'display name falls back to the email local part');
select is(
    (select (timezone, preferences)::text from public.profiles where id = :'carol'), '(UTC,{})',
    'timezone defaults to UTC and preferences to an empty object');

-- Sign-up as Supabase Auth does it: as supabase_auth_admin, which has no rights on public.
set local role supabase_auth_admin;
insert into auth.users (id, email) values ('33333333-3333-4333-8333-333333333333', 'dave@test.local');
reset role;
select is(
    (select display_name from public.profiles where id = '33333333-3333-4333-8333-333333333333'), 'dave',
    'the profile is created when Supabase Auth inserts the user');

-- A signed-in user.
select tests.authenticate_as(:'alice');
select is(
    (select array_agg(id) from public.profiles), array[:'alice'::uuid],
    'a user sees only their own profile');
select is(
    (select count(*)::int from public.profiles where id = :'bob'), 0,
    'a user cannot read another user''s profile');

update public.profiles
set display_name = 'Alice', avatar_url = 'https://example.com/a.png', timezone = 'Europe/Paris',
    preferences = '{"theme": "dark"}'
where id = :'alice';
select tests.clear_authentication();
select is(
    (select (display_name, avatar_url, timezone, preferences)::text from public.profiles where id = :'alice'),
    '(Alice,https://example.com/a.png,Europe/Paris,"{""theme"": ""dark""}")',
    'a user can update their own profile');

select tests.authenticate_as(:'alice');
with updated as (
    update public.profiles set display_name = 'Hacked' where id = :'bob' returning 1
)
select is(count(*)::int, 0, 'a user cannot update another user''s profile') from updated;

select throws_ok(
    format('insert into public.profiles (id) values (%L)', gen_random_uuid()), '42501', null,
    'a user cannot insert a profile');
select throws_ok(
    format('delete from public.profiles where id = %L', :'alice'), '42501', null,
    'a user cannot delete a profile');
select throws_ok(
    format('update public.profiles set id = %L where id = %L', gen_random_uuid(), :'alice'), '42501', null,
    'a user cannot change a profile''s id');
select throws_ok(
    format('update public.profiles set created_at = now() - interval ''1 year'' where id = %L', :'alice'),
    '42501', null, 'a user cannot change created_at');
select throws_ok(
    format('update public.profiles set timezone = %L where id = %L', 'Mars/Olympus_Mons', :'alice'),
    '23514', null, 'an unknown time zone is rejected');
select throws_ok(
    format('update public.profiles set timezone = %L where id = %L', 'PST', :'alice'),
    '23514', null, 'a time zone abbreviation is rejected');
select throws_ok(
    format('update public.profiles set preferences = %L where id = %L', '["dark"]', :'alice'),
    '23514', null, 'preferences that are not an object are rejected');
select throws_ok(
    format('update public.profiles set display_name = %L where id = %L', ' ', :'alice'),
    '23514', null, 'a blank display name is rejected');

-- Anonymous requests.
select tests.authenticate_as_anon();
select throws_ok('select * from public.profiles', '42501', null, 'anon cannot read profiles');

-- Server-side requests with the service role key.
select tests.authenticate_as_service_role();
select is(
    (select count(*)::int from public.profiles where id in (:'alice', :'bob', :'carol')), 3,
    'service_role sees every profile');
update public.profiles set display_name = 'Bob', updated_at = '2000-01-01' where id = :'bob';
select is(
    (select updated_at from public.profiles where id = :'bob'), now(),
    'updated_at is maintained by the database, whatever the client sends');

select tests.clear_authentication();
delete from auth.users where id = :'carol';
select is(
    (select count(*)::int from public.profiles where id = :'carol'), 0,
    'deleting the user deletes their profile');

select * from finish();
rollback;
