-- post_from_job: a finished team job becomes one draft post with its destinations in one
-- transaction, once per job, for members of the job's team only.
begin;
select plan(11);

select tests.create_user('job-post-owner@test.local') as owner \gset
select tests.create_user('job-post-outsider@test.local') as outsider \gset
select tests.create_team(:'owner', 'Job post team') as team \gset
select tests.create_team(:'outsider', 'Other job post team') as other_team \gset

insert into public.social_connections (id, team_id, platform, external_account_id, encrypted_access_token,
    token_key_version)
values (gen_random_uuid(), :'team', 'x', 'job-x-1', 'sealed', 'v1'),
       (gen_random_uuid(), :'other_team', 'x', 'job-x-2', 'sealed', 'v1');
select id as connection from public.social_connections where external_account_id = 'job-x-1' \gset
select id as foreign_connection from public.social_connections where external_account_id = 'job-x-2' \gset

insert into public.content_jobs (user_id, team_id, brief, chain, steps_total, state, result)
values (:'owner', :'team', '{}', '[]', 1, 'done', '{"text": "Job text"}') returning id as job \gset
insert into public.content_jobs (user_id, team_id, brief, chain, steps_total, state)
values (:'owner', :'team', '{}', '[]', 1, 'running') returning id as running_job \gset
insert into public.content_jobs (user_id, brief, chain, steps_total, state)
values (:'owner', '{}', '[]', 1, 'done') returning id as personal_job \gset
insert into public.content_jobs (user_id, team_id, brief, chain, steps_total, state)
values (:'owner', :'team', '{}', '[]', 1, 'done') returning id as refused_job \gset
insert into public.assets (user_id, team_id, kind, storage_path, mime_type, size_bytes, job_id, step_index)
values (:'owner', :'team', 'image', :'team' || '/' || :'job' || '/1-0.png', 'image/png', 10, :'job', 1);
select id as asset from public.assets where job_id = :'job' \gset

select ok(not has_function_privilege('authenticated', 'public.post_from_job(uuid,uuid,jsonb)', 'execute')
    and not has_function_privilege('anon', 'public.post_from_job(uuid,uuid,jsonb)', 'execute')
    and has_function_privilege('service_role', 'public.post_from_job(uuid,uuid,jsonb)', 'execute'),
    'only the worker (service role) makes posts from jobs');

select is(public.post_from_job(:'outsider', :'job', '[]') ->> 'status', 'not_found',
    'a job of another team is not found');
select is(public.post_from_job(:'owner', :'running_job', '[]') ->> 'status', 'invalid_job_state',
    'a job still running cannot become a post');
select is(public.post_from_job(:'owner', :'personal_job', '[]') ->> 'status', 'invalid_job_state',
    'nor a personal job');

select throws_ok(format('select public.post_from_job(%L, %L, %L)', :'owner', :'refused_job',
        jsonb_build_array(jsonb_build_object('connectionId', :'connection'),
                          jsonb_build_object('connectionId', :'foreign_connection'))),
    '23503', null, 'a destination on another team''s connection is refused');
select is_empty(format('select from public.scheduled_posts where client_post_id = %L', 'job:' || :'refused_job'),
    'and leaves no post behind');

select public.post_from_job(:'owner', :'job',
    jsonb_build_array(jsonb_build_object('connectionId', :'connection', 'options', '{"replySettings": "following"}'::jsonb)))
    as made \gset
select is(:'made'::jsonb ->> 'status', 'draft', 'a finished team job becomes a draft post');
select results_eq(
    format($$select p.team_id, p.body, p.media, p.created_by, d.connection_id, d.options
             from public.scheduled_posts as p join public.post_destinations as d on d.post_id = p.id
             where p.id = %L and p.client_post_id = %L$$, :'made'::jsonb ->> 'postId', 'job:' || :'job'),
    format($$values (%L::uuid, 'Job text', jsonb_build_array(jsonb_build_object('assetId', %L::uuid)), %L::uuid,
                     %L::uuid, '{"replySettings": "following"}'::jsonb)$$, :'team', :'asset', :'owner', :'connection'),
    'with the job''s text and images, its author and its destination');

select is(public.post_from_job(:'owner', :'job', '[]'),
    jsonb_build_object('status', 'draft', 'postId', :'made'::jsonb ->> 'postId'),
    'asked again before its submission, the same draft is answered');
update public.post_destinations set status = 'scheduled' where post_id = (:'made'::jsonb ->> 'postId')::uuid;
select is(public.post_from_job(:'owner', :'job', '[]'),
    jsonb_build_object('status', 'existing', 'postId', :'made'::jsonb ->> 'postId'),
    'once submitted, it is the existing post');
select is((select count(*) from public.scheduled_posts where client_post_id = 'job:' || :'job'), 1::bigint,
    'one post per job');

select * from finish();
rollback;
