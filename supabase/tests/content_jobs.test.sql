-- Content jobs: who reads jobs, steps, batches and assets (RLS); the worker-only RPCs; claims
-- with leases; step snapshots settled in the credit ledger atomically; idempotency keys; batch
-- counters; cancel/retry rights.
begin;
select plan(38);

select tests.create_user('jobs-alice@test.local') as alice \gset
select tests.create_user('jobs-member@test.local') as member \gset
select tests.create_user('jobs-outsider@test.local') as outsider \gset
select tests.create_team(:'alice', 'Jobs team') as team \gset
select tests.create_team(:'outsider', 'Other team') as other_team \gset
select tests.add_team_member(:'team', :'member');
insert into public.campaigns (team_id, name, tone) values (:'team', 'Spring', 'warm') returning id as campaign \gset

-- Only the service role runs the worker's RPCs; clients only read.
select ok(not has_function_privilege('authenticated',
        'public.create_content_job(uuid,jsonb,jsonb,uuid,uuid,uuid,text,text)', 'execute')
    and not has_function_privilege('authenticated', 'public.claim_content_jobs(uuid,integer,integer,uuid,uuid)', 'execute')
    and not has_function_privilege('anon', 'public.finish_content_job_step(uuid,uuid,integer,boolean,integer,integer,jsonb,uuid,public.ai_provider,text,integer,integer,integer,text,text,jsonb,jsonb)', 'execute')
    and not has_function_privilege('authenticated', 'public.cancel_content_job(uuid,uuid)', 'execute')
    and not has_function_privilege('authenticated', 'public.create_content_batch(uuid,uuid,integer,jsonb)', 'execute')
    and has_function_privilege('service_role', 'public.start_content_job_step(uuid,uuid,integer,public.content_step_kind,jsonb,integer,public.ai_provider,text)', 'execute'),
    'only the service role calls the content job RPCs');
select tests.authenticate_as(:'alice');
select throws_ok($$select public.claim_content_jobs(gen_random_uuid(), 1, 60)$$, '42501', null,
    'a signed-in user cannot claim jobs');
select throws_ok(format($$select public.create_content_job(%L, '{"prompt": "x"}', '[{"kind": "draft"}]')$$, :'alice'),
    '42501', null, 'nor create one for anybody');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.content_jobs', 'insert')
    and not has_table_privilege('authenticated', 'public.content_jobs', 'update')
    and not has_table_privilege('authenticated', 'public.assets', 'insert')
    and not has_table_privilege('authenticated', 'public.content_job_steps', 'update'),
    'clients cannot write jobs, steps or assets directly');
select ok(has_table_privilege('authenticated', 'public.content_jobs', 'select')
    and not has_table_privilege('anon', 'public.content_jobs', 'select')
    and not has_table_privilege('anon', 'public.assets', 'select'),
    'signed-in clients read whole rows (select *), anon nothing');

-- Creating: membership, the team's records, idempotency.
select is(public.create_content_job(:'outsider', '{"prompt": "x"}', '[{"kind": "draft"}]', team_id => :'team') ->> 'status',
    'not_team_member', 'only members create team jobs');
select is(public.create_content_job(:'alice', '{"prompt": "x"}', '[{"kind": "draft"}]', team_id => :'team',
        campaign_id => gen_random_uuid()) ->> 'field', 'campaignId', 'the campaign must be the team''s');
select public.create_content_job(:'alice', '{"prompt": "Spring", "platforms": ["x"]}',
    '[{"kind": "draft"}, {"kind": "refine"}]', team_id => :'team', campaign_id => :'campaign',
    idempotency_key => 'k1', request_hash => 'h1') ->> 'job_id' as team_job \gset
select is((select brief #>> '{context,campaign,name}' from public.content_jobs where id = :'team_job'), 'Spring',
    'the brief keeps the campaign as it was');
select is(public.create_content_job(:'alice', '{"prompt": "Spring"}', '[{"kind": "draft"}]', team_id => :'team',
        idempotency_key => 'k1', request_hash => 'h1'),
    jsonb_build_object('status', 'existing', 'job_id', :'team_job'::uuid, 'state', 'queued'),
    'the same key and request return the same job');
select is(public.create_content_job(:'alice', '{"prompt": "Other"}', '[{"kind": "draft"}]', team_id => :'team',
        idempotency_key => 'k1', request_hash => 'h2') ->> 'status', 'idempotency_conflict',
    'the same key with another request is refused');
select is(public.create_content_job(:'alice', '{"prompt": "Me"}', '[{"kind": "draft"}]',
        idempotency_key => 'k1', request_hash => 'h3') ->> 'status', 'created',
    'keys are per user and team: the personal scope has its own');
select public.create_content_job(:'alice', '{"prompt": "Mine"}', '[{"kind": "draft"}]') ->> 'job_id' as personal_job \gset

-- Claims: a lease, nothing claimed twice while it holds, expired leases claimed again.
select '00000000-0000-4000-8000-0000000000a1' as worker_a \gset
select '00000000-0000-4000-8000-0000000000b2' as worker_b \gset
select is(jsonb_array_length(public.claim_content_jobs(:'worker_a', 10, 60, job_id => :'team_job')), 1,
    'a queued job is claimed');
select ok((select state = 'running' and lease_owner = :'worker_a' and lease_expires_at > now() and attempts = 1
           from public.content_jobs where id = :'team_job'), 'the claim takes a lease');
select is(public.claim_content_jobs(:'worker_b', 10, 60, job_id => :'team_job'), '[]'::jsonb,
    'a job under a live lease is not claimed again');
select is(public.start_content_job_step(:'team_job', :'worker_b', 0, 'draft', '{"prompt": "p"}', 60) ->> 'status',
    'lease_lost', 'another executor cannot start its step');
select is(public.start_content_job_step(:'team_job', :'worker_a', 1, 'refine', '{"prompt": "p"}', 60) ->> 'status',
    'lease_lost', 'nor can the holder skip ahead');

-- A step: reserved in the ledger, then settled together with its snapshot.
select public.reserve_ai_credits(:'alice', 'jobs/draft', 'text', 'openai', 10, 100, 0, :'team') ->> 'request_id' as request \gset
select is(public.start_content_job_step(:'team_job', :'worker_a', 0, 'draft', '{"prompt": "p"}', 60) ->> 'status',
    'started', 'the holder starts the next step');
select is(public.finish_content_job_step(:'team_job', :'worker_a', 0, true, 12, 60, output => '{"text": "draft"}',
        ai_request_id => :'request', provider => 'openai', model => 'gpt-4o-mini', input_tokens => 1000,
        output_tokens => 1000, images => 0) ->> 'status', 'next', 'a finished step moves the job on');
select is((select (s.status, s.credits, s.output ->> 'text', r.status)::text
           from public.content_job_steps as s join public.ai_requests as r on r.id = s.ai_request_id
           where s.job_id = :'team_job' and s.step_index = 0),
    '(succeeded,2,draft,succeeded)', 'the snapshot records the settled credits');
select is((select (used, reserved)::text from public.ai_credit_ledger where subject_id = :'team'), '(2,0)',
    'the team''s ledger is charged once and nothing stays reserved');
update public.content_jobs set lease_expires_at = now() - interval '1 second' where id = :'team_job';
select is((public.claim_content_jobs(:'worker_b', 10, 60, job_id => :'team_job') -> 0 ->> 'current_step')::int, 1,
    'an expired lease is claimed again, resuming at the next step');
select is((public.claim_content_jobs(:'worker_b', 10, 60, job_id => :'team_job') -> 0), null,
    '(and then held by the new executor)');
select is(public.finish_content_job_step(:'team_job', :'worker_a', 1, true, 5, 60, output => '{"text": "x"}') ->> 'status',
    'lease_lost', 'the old executor can no longer write a snapshot');
select public.start_content_job_step(:'team_job', :'worker_b', 1, 'refine', '{"prompt": "p"}', 60);
select is(public.finish_content_job_step(:'team_job', :'worker_b', 1, true, 5, 60, output => '{"text": "final"}',
        result => '{"text": "final"}') ->> 'status', 'done', 'the last step finishes the job');
select is((select (state, current_step, lease_owner is null)::text from public.content_jobs where id = :'team_job'),
    '(done,2,t)', 'done jobs hold no lease');

-- Reading: the team's members, or the owner of a personal job.
select tests.authenticate_as(:'member');
select results_eq(format($$select count(*)::int from public.content_job_steps where job_id = %L$$, :'team_job'),
    array[2], 'a teammate reads the team job''s steps');
select is_empty(format($$select from public.content_jobs where id = %L$$, :'personal_job'),
    'a teammate does not read a personal job');
select tests.authenticate_as(:'outsider');
select is_empty(format($$select from public.content_jobs where id = %L$$, :'team_job'),
    'another team cannot read the job');
select is_empty(format($$select from public.content_job_steps where job_id = %L$$, :'team_job'),
    'nor its steps');
select tests.clear_authentication();

-- Cancel and retry: the submitter or an owner/admin; other teams see nothing.
select is(public.cancel_content_job(:'outsider', :'personal_job') ->> 'status', 'not_found',
    'another user cannot cancel (or see) a personal job');
select is(public.cancel_content_job(:'alice', :'personal_job') ->> 'status', 'canceled', 'the owner cancels it');
select is(public.retry_content_job(:'alice', :'personal_job') ->> 'status', 'conflict', 'only failed jobs are retried');

-- A done team job becomes a draft, once; a personal job cannot.
select public.create_draft_from_content_job(:'member', :'team_job', 'From the job') ->> 'draft_id' as draft \gset
select is((select (title, platform_contents #>> '{x,content}', created_by = :'member')::text
           from public.content_drafts where id = :'draft'), '("From the job",final,t)',
    'the draft holds the job''s text per platform, authored by the caller');
select is(public.create_draft_from_content_job(:'alice', :'team_job') ->> 'draft_id', :'draft',
    'a second call returns the same draft');

-- Batches: one job per post; counters follow the jobs.
select public.create_content_batch(:'alice', :'campaign', 2,
    '[{"brief": {"prompt": "a"}, "chain": [{"kind": "draft"}]}, {"brief": {"prompt": "b"}, "chain": [{"kind": "draft"}]},
      {"brief": {"prompt": "c"}, "chain": [{"kind": "draft"}]}]') ->> 'batch_id' as batch \gset
select is(jsonb_array_length(public.claim_content_jobs(:'worker_a', 10, 60, batch_id => :'batch')), 2,
    'a batch never runs more than its concurrency at once');
select is(public.claim_content_jobs(:'worker_b', 1, 60, batch_id => :'batch'), '[]'::jsonb,
    'another lane (executor) gets nothing while the batch runs at its concurrency');
update public.content_jobs set state = 'failed' where batch_id = :'batch' and batch_index = 0;
update public.content_jobs set state = 'done' where batch_id = :'batch' and batch_index in (1, 2);
select is((select (completed, failed, state)::text from public.content_batches where id = :'batch'), '(2,1,partial)',
    'the counters follow the jobs, and the batch is finished when all are (partial: one failed)');
select tests.authenticate_as(:'outsider');
select is_empty(format($$select from public.content_batches where id = %L$$, :'batch'), 'other teams cannot read batches');
select tests.clear_authentication();

select * from finish();
rollback;
