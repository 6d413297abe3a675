-- Two executors claim at the same moment: the second skips the job the first has locked (it
-- does not wait for it, nor take it), and takes the next one instead.
--
-- As in team_cap_concurrency: committed fixtures, and a dblink session as the first executor,
-- whose claim stays uncommitted while this session claims.

begin;
select tests.create_user(format('jobs-race-%s@test.local', gen_random_uuid())) as racer \gset
select public.create_content_job(:'racer', '{"prompt": "a"}', '[{"kind": "draft"}]') ->> 'job_id' as job_a \gset
select public.create_content_job(:'racer', '{"prompt": "b"}', '[{"kind": "draft"}]') ->> 'job_id' as job_b \gset
commit;

begin;
select plan(4);
create extension if not exists dblink with schema extensions;
select format('host=%s port=%s dbname=%s user=%s',
    coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
    current_setting('port'), current_database(), current_user) as conn \gset
select extensions.dblink_connect('first', :'conn');
select extensions.dblink_exec('first', 'begin');
select is(
    (select claimed from extensions.dblink('first', format(
        'select jsonb_array_length(public.claim_content_jobs(%L, 1, 60, job_id => %L))',
        '00000000-0000-4000-8000-0000000000a1', :'job_a')) as t (claimed int)),
    1, 'the first executor claims job A (not committed yet)');

set local statement_timeout = '3s';
select is(public.claim_content_jobs('00000000-0000-4000-8000-0000000000b2', 1, 60, job_id => :'job_a'), '[]'::jsonb,
    'the second executor skips the locked job at once instead of waiting or taking it');
select is(public.claim_content_jobs('00000000-0000-4000-8000-0000000000b2', 1, 60, job_id => :'job_b') -> 0 ->> 'id',
    :'job_b', 'and takes the next one');
reset statement_timeout;

select extensions.dblink_exec('first', 'commit');
select extensions.dblink_disconnect('first');
select is((select lease_owner::text from public.content_jobs where id = :'job_a'),
    '00000000-0000-4000-8000-0000000000a1', 'job A belongs to the first executor alone');

select * from finish();
rollback;

begin;
delete from auth.users where id = :'racer';
commit;
