-- Content jobs start through pg_net when they are queued (created or retried), as publish-now
-- does: pg_net calls the worker's sweep for them when the transaction commits, and the worker
-- runs them in that request, which lasts as long as pg_net waits (5 minutes). Work after a
-- client's response, where they ran before, is cut after about 30 s.
--
-- One call per job, or per batch (the batch's concurrency is the number of lanes that drain it),
-- once per statement: a batch of 100 posts makes one call.
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

create function app_private.request_queued_content_jobs()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform app_private.request_worker(call.path)
        from (
            select distinct app_private.content_job_run_path(j.id, j.batch_id) as path
            from queued as j
            where j.state = 'queued'
        ) as call;
    else
        perform app_private.request_worker(call.path)
        from (
            select distinct app_private.content_job_run_path(j.id, j.batch_id) as path
            from queued as j
            join previous as p on p.id = j.id
            where j.state = 'queued' and p.state <> 'queued'
        ) as call;
    end if;
    return null;
end
$$;
revoke execute on function app_private.request_queued_content_jobs() from public;

create trigger content_jobs_queued_on_insert
after insert on public.content_jobs
referencing new table as queued
for each statement execute function app_private.request_queued_content_jobs();

create trigger content_jobs_queued_on_update
after update on public.content_jobs
referencing old table as previous new table as queued
for each statement execute function app_private.request_queued_content_jobs();
