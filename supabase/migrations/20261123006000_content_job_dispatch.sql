-- Content jobs start through pg_net when they are queued (created or retried), as publish-now
-- does: pg_net calls the worker's sweep for them when the transaction commits, and the worker
-- runs them in that request, which lasts as long as pg_net waits (5 minutes). Work after a
-- client's response, where they ran before, is cut after about 30 s.
--
-- One call per job, or per batch (the batch's concurrency is the number of lanes that drain it):
-- a batch of 100 posts, inserted in one statement, makes one call.

-- The sweep's address for one job, or for its batch with the batch's lanes.
create function app_private.content_job_run_path(job_id uuid, batch_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
    select case
        when content_job_run_path.batch_id is null then '/v1/cron/jobs/sweep?job_id=' || content_job_run_path.job_id
        else '/v1/cron/jobs/sweep?batch_id=' || content_job_run_path.batch_id || '&lanes=' || (
            select b.concurrency from public.content_batches as b where b.id = content_job_run_path.batch_id)
    end
$$;
revoke execute on function app_private.content_job_run_path(uuid, uuid) from public;

-- New jobs: once per inserting statement, so a batch's jobs make one call.
create function app_private.request_new_content_jobs()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform app_private.request_worker(call.path)
    from (
        select distinct app_private.content_job_run_path(j.id, j.batch_id) as path
        from inserted as j
        where j.state = 'queued'
    ) as call;
    return null;
end
$$;
revoke execute on function app_private.request_new_content_jobs() from public;

create trigger content_jobs_request_new
after insert on public.content_jobs
referencing new table as inserted
for each statement execute function app_private.request_new_content_jobs();

-- A job queued again (a retry). Per row, and only for that change: the executor's own updates
-- (claims, steps) never reach the function.
create function app_private.request_requeued_content_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform app_private.request_worker(app_private.content_job_run_path(new.id, new.batch_id));
    return null;
end
$$;
revoke execute on function app_private.request_requeued_content_job() from public;

create trigger content_jobs_request_requeued
after update of state on public.content_jobs
for each row when (new.state = 'queued' and old.state <> 'queued')
execute function app_private.request_requeued_content_job();
