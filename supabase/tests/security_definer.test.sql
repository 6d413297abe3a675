-- Guards for functions: a security definer function runs with its owner's rights, so a
-- search_path the caller controls would let the caller substitute objects; and every
-- function in public is an RPC endpoint, so who may execute it must be deliberate.
begin;
select plan(3);

-- Our schemas are all but the system's and those Supabase (or its local stand-in) owns.
select is_empty(
    $$
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
    where p.prosecdef
      and n.nspname !~ '^pg_'
      and n.nspname not in (
          'information_schema', 'extensions', 'auth', 'storage', 'realtime', '_realtime', 'net',
          'vault', 'pgsodium', 'pgsodium_masks', 'graphql', 'graphql_public', 'pgbouncer',
          'supabase_functions', 'supabase_migrations', 'cron', '_analytics')
      and not exists (
          select from pg_catalog.pg_depend as d
          where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
      and not exists (select from unnest(p.proconfig) as setting where setting like 'search_path=%')
    $$,
    'every security definer function of ours pins its search_path');

-- Add 'function signature for role' here, deliberately, for each function clients may call.
select is_empty(
    $$
    select format('%s for %s', p.oid::regprocedure, r.rolname)
    from pg_catalog.pg_proc as p
    cross join (values ('anon'), ('authenticated')) as r (rolname)
    where p.pronamespace = 'public'::regnamespace
      and has_function_privilege(r.rolname, p.oid, 'execute')
      and format('%s for %s', p.oid::regprocedure, r.rolname) <> all (array[
          -- Signed-in users' RPCs; each checks the caller's team role itself.
          'create_team(text) for authenticated',
          'update_team_member_role(uuid,uuid,team_role) for authenticated',
          'remove_team_member(uuid,uuid) for authenticated',
          'transfer_team_ownership(uuid,uuid) for authenticated',
          'create_team_invitation(uuid,text,team_role,interval) for authenticated',
          -- Invitees must sign in before a token shows or does anything.
          'get_team_invitation(text) for authenticated',
          'accept_team_invitation(text) for authenticated',
          'decline_team_invitation(text) for authenticated',
          'revoke_team_invitation(uuid) for authenticated',
          -- An invitee with an account finds and answers invitations to their verified address.
          'my_team_invitations() for authenticated',
          'respond_to_team_invitation(uuid,boolean) for authenticated',
          'create_chat_channel(uuid,text,uuid[]) for authenticated',
          'open_direct_channel(uuid,uuid) for authenticated',
          -- Pure: reads only Postgres's time zone data (an app can preview a local time).
          'resolve_local_time(timestamp without time zone,text) for authenticated',
          -- Team owner/admin (checked inside), or the caller for their own calls.
          'set_ai_prompt_logging(boolean,uuid) for authenticated'
      ])
    $$,
    'no function in public is executable by anon or authenticated unless allow-listed');

select ok(
    not has_schema_privilege('anon', 'app_private', 'usage')
        and not has_schema_privilege('authenticated', 'app_private', 'usage'),
    'the API roles cannot reach app_private');

select * from finish();
rollback;
