-- Local stand-in for the roles and grants every Supabase project starts with
-- (supabase/postgres init scripts). Applied as superuser `postgres` on a fresh cluster;
-- never applied to Supabase.

-- The API roles PostgREST switches to per request, from the JWT's `role` claim.
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;

-- PostgREST logs in as authenticator and may only become one of the API roles.
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;

-- GoTrue's role: it owns the auth schema, so triggers app migrations put on auth.users run
-- on its inserts exactly as on Supabase (where it cannot touch public tables directly).
create role supabase_auth_admin login noinherit;
alter role supabase_auth_admin set search_path = auth;

-- Supabase exposes everything created in public to the API roles and relies on RLS
-- (plus explicit revokes in migrations) to protect it; mirror that so local behaves alike.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

-- Same statement timeouts Supabase sets, so slow queries fail locally too.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- Supabase sets this search_path so unqualified extension functions (gen_salt, crypt, …) resolve.
alter database postgres set search_path = "$user", public, extensions;
