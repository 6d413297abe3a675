-- Everything in public is reachable through the Data API and Supabase grants the API roles
-- access to it by default, so row level security is what protects each row.
begin;
select plan(2);

select is_empty(
    $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p')
      and not c.relrowsecurity
    $$,
    'every table in public has row level security enabled');

-- A view runs with its owner's rights (bypassing RLS) unless it is security_invoker.
select is_empty(
    $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind = 'v'
      and not coalesce('security_invoker=true' = any (c.reloptions), false)
    $$,
    'every view in public is security_invoker');

select * from finish();
rollback;
