begin;
select plan(4);

select tests.create_user('health@test.local') as user_id \gset

select function_returns('public', 'health_check', array[]::text[], 'boolean', 'health_check() returns boolean');

select tests.authenticate_as_service_role();
select is(public.health_check(), true, 'service_role gets true (what /readyz relies on)');

select tests.authenticate_as_anon();
select throws_ok('select public.health_check()', '42501', null, 'anon cannot call health_check()');

select tests.authenticate_as(:'user_id');
select throws_ok('select public.health_check()', '42501', null, 'a signed-in user cannot call health_check()');

select * from finish();
rollback;
