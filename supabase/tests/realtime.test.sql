-- Realtime: the tables clients follow live, and broadcasting from SQL with realtime.send().
begin;
select plan(4);

select ok(
    (select array_agg(tablename::text) from pg_catalog.pg_publication_tables where pubname = 'supabase_realtime')
        @> array['chat_channels', 'chat_channel_members', 'chat_messages', 'content_jobs', 'post_destinations'],
    'chat, content jobs and post destinations are published to Realtime');
select is(
    (select count(*)::int from pg_catalog.pg_publication_tables
     where pubname = 'supabase_realtime' and tablename in ('content_job_steps', 'ai_provider_configs', 'social_connections', 'ai_credit_ledger')),
    0, 'tables holding secrets or internals are not');

select realtime.send(jsonb_build_object('state', 'running'), 'job_progress', 'team:1');
select results_eq(
    $$ select topic, extension, event, private, payload ? 'id' from realtime.messages where event = 'job_progress' $$,
    $$ values ('team:1'::text, 'broadcast'::text, 'job_progress'::text, true, true) $$,
    'realtime.send() stores a private broadcast for Realtime to fan out, with an id');
select lives_ok(
    $$ select realtime.send('{}', 'x', 'chat:nobody', true) from (select set_config('role', 'anon', true)) as anon $$,
    'a send the policies refuse is a warning, not the caller''s error');

select * from finish();
rollback;
