-- Readiness that sees the schedulers (issue #20): what `GET /readyz/deep` reports to operators.
-- `/readyz` only proves the database answers; publishing, job sweeps, token refresh and the
-- credit reset also need pg_cron's jobs, pg_net's deliveries and Vault's two secrets, and each
-- of those can fail silently (a missing `worker_url` makes every job do nothing at all).

-- The schedules the migrations create, by name: readiness reports any of them missing.
create function app_private.expected_cron_jobs()
returns text[]
language sql
immutable
set search_path = ''
as $$
    select array['ai-credits-reset', 'ai-reservations-expire', 'content-jobs-sweep', 'publish-due-posts',
                 'social-token-refresh', 'storage-cleanup']
$$;
revoke execute on function app_private.expected_cron_jobs() from public;

-- Each part as {ok, problems[]} plus its figures; `ready` only when every part is ok. Never a
-- secret: the cron secret is compared by its SHA-256 (`worker_cron_secret_sha256`, from the
-- worker), pg_net's failures are counted with their status, never their bodies. Thresholds:
-- a delivery fails when it timed out, did not connect or answered ≥ 400; pg_net is degraded
-- when the latest delivery failed or 5 failed within 15 minutes. Work is overdue after 5
-- minutes (pg_cron asks every minute).
create function public.readiness_report(worker_cron_secret_sha256 text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    overdue_after constant interval := interval '5 minutes';
    cron_part jsonb;
    net_part jsonb;
    vault_part jsonb;
    publishing_part jsonb;
    jobs_part jsonb;
begin
    select jsonb_build_object('ok', count(problem) = 0,
                              'problems', coalesce(jsonb_agg(problem) filter (where problem is not null), '[]'))
    into cron_part
    from (
        select case
            when j.jobid is null then format('%s is not scheduled', e.name)
            when not j.active then format('%s is paused', e.name)
            when last_run.status = 'failed' then
                format('%s failed at %s: %s', e.name, last_run.start_time, left(last_run.return_message, 200))
        end as problem
        from unnest(app_private.expected_cron_jobs()) as e (name)
        left join cron.job as j on j.jobname = e.name
        left join lateral (
            select r.status, r.start_time, r.return_message
            from cron.job_run_details as r
            where r.jobid = j.jobid
            order by r.start_time desc nulls last
            limit 1
        ) as last_run on true
    ) as checked;

    with recent as (
        select r.created, r.status_code,
               r.timed_out or r.error_msg is not null or r.status_code is null or r.status_code >= 400 as failed
        from net._http_response as r
        where r.created > now() - interval '15 minutes'
    ), latest as (
        select * from recent order by created desc limit 1
    )
    select jsonb_build_object(
        'ok', not coalesce((select failed from latest), false) and count(*) filter (where failed) < 5,
        'problems', to_jsonb(array_remove(array[
            case when (select failed from latest) then
                format('the latest delivery to the worker failed (%s)',
                       coalesce((select status_code::text from latest), 'no answer'))
            end,
            case when count(*) filter (where failed) >= 5 then
                format('%s deliveries to the worker failed in 15 minutes', count(*) filter (where failed))
            end], null)),
        'failedLast15Minutes', count(*) filter (where failed),
        'queued', (select count(*) from net.http_request_queue))
    into net_part
    from recent;

    with secret as (
        select s.name, s.decrypted_secret as value from vault.decrypted_secrets as s
        where s.name in ('worker_url', 'cron_secret')
    ), problems as (
        select 'worker_url is not in Vault: pg_cron reaches no worker' as problem
        where not exists (select from secret where name = 'worker_url' and value <> '')
        union all
        select 'cron_secret is not in Vault: pg_cron reaches no worker'
        where not exists (select from secret where name = 'cron_secret')
        union all
        select 'cron_secret in Vault is not this worker''s CRON_SECRET: the worker refuses pg_cron'
        from secret
        where name = 'cron_secret'
          and encode(sha256(convert_to(value, 'UTF8')), 'hex') <> lower(worker_cron_secret_sha256)
    )
    select jsonb_build_object('ok', count(*) = 0, 'problems', coalesce(jsonb_agg(problem), '[]'))
    into vault_part
    from problems;

    select jsonb_build_object(
        'ok', coalesce(min(d.next_attempt_at) > now() - overdue_after, true),
        'problems', case when min(d.next_attempt_at) <= now() - overdue_after then
            jsonb_build_array(format('a destination is %s s overdue',
                floor(extract(epoch from now() - min(d.next_attempt_at)))))
            else '[]' end,
        'oldestOverdueSeconds', greatest(floor(extract(epoch from now() - min(d.next_attempt_at))), 0))
    into publishing_part
    from public.post_destinations as d
    where d.status = 'scheduled' and d.next_attempt_at <= now()
       or d.status = 'publishing' and d.lease_expires_at < now();

    select jsonb_build_object(
        'ok', coalesce(min(since) > now() - overdue_after, true),
        'problems', case when min(since) <= now() - overdue_after then
            jsonb_build_array(format('a content job has waited %s s to be run',
                floor(extract(epoch from now() - min(since)))))
            else '[]' end,
        'oldestQueuedSeconds', greatest(floor(extract(epoch from now() - min(since))), 0))
    into jobs_part
    from (
        -- Claimable since it was queued (its last change) or its wait ended, whichever is later.
        select greatest(j.updated_at, j.run_after) as since
        from public.content_jobs as j
        where j.state = 'queued' and (j.run_after is null or j.run_after <= now())
    ) as waiting;

    return jsonb_build_object(
        'ready', (cron_part ->> 'ok')::boolean and (net_part ->> 'ok')::boolean and (vault_part ->> 'ok')::boolean
                 and (publishing_part ->> 'ok')::boolean and (jobs_part ->> 'ok')::boolean,
        'checks', jsonb_build_object(
            'cron', cron_part, 'pgNet', net_part, 'vault', vault_part,
            'publishing', publishing_part, 'contentJobs', jobs_part));
end
$$;
comment on function public.readiness_report(text) is
    'What GET /readyz/deep reports: pg_cron jobs, pg_net deliveries, Vault secrets, overdue posts and jobs. service_role only.';
revoke execute on function public.readiness_report(text) from public, anon, authenticated;
grant execute on function public.readiness_report(text) to service_role;
