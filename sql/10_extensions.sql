-- Supabase installs extensions into their own schema, not public.
create schema extensions;
grant usage on schema extensions to anon, authenticated, service_role;

create extension pgcrypto with schema extensions;
create extension "uuid-ossp" with schema extensions;
