-- Posts go out at their second, not at the next cron minute (#26). pg_cron has minute
-- granularity (1.4 locally; 1.6's second schedules exist on hosted Supabase only), so each
-- minute's run also looks ahead: the worker asks `publishing_wakeups` for the instants due
-- before the next run and sends itself one delayed Cloudflare Queue message per instant; the
-- queue's consumer claims what is due then, as the sweep does. The sweep stays the safety net:
-- a lost message only delays its posts to the next minute. See docs/publishing.md.

-- How far a minute's run looks ahead: one minute, plus slack for the run's own delay (pg_cron
-- starts a job up to a second late, and pg_net takes its queue once a second), so that
-- consecutive runs overlap (a doubled wake-up claims nothing) instead of leaving a gap.
create function app_private.publishing_lookahead()
returns interval
language sql
immutable
set search_path = ''
as $$ select interval '70 seconds' $$;
revoke execute on function app_private.publishing_lookahead() from public;

-- Each minute pg_cron asks the worker to publish what is due, and to wake up for what falls
-- due before the next run; only when there is either (the worker checks the secret; see
-- app_private.request_worker).
create or replace function app_private.request_publishing()
returns bigint
language sql
security definer
set search_path = ''
as $$
    select app_private.request_worker('/v1/cron/publish')
    where exists (
        select from public.post_destinations as d
        where d.status = 'scheduled' and d.next_attempt_at <= now() + app_private.publishing_lookahead()
           or d.status = 'publishing' and d.lease_expires_at < now())
$$;

-- The delays (whole seconds from now, rounded up, so nothing is claimed before it is due) at
-- which the worker should wake up to publish what falls due within the look-ahead, one per
-- distinct second. More distinct seconds than `max_wakeups` share wider buckets (each delay
-- rounded up to a multiple of lookahead / max_wakeups), so a busy minute costs at most
-- `max_wakeups` messages and each post waits at most one bucket more.
create function public.publishing_wakeups(max_wakeups integer)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    with due as (
        select distinct ceil(extract(epoch from d.next_attempt_at - now()))::integer as delay
        from public.post_destinations as d
        where d.status = 'scheduled'
          and d.next_attempt_at > now()
          and d.next_attempt_at <= now() + app_private.publishing_lookahead()
    ),
    bucket as (
        select case
            when (select count(*) from due) <= max_wakeups then 1
            else ceil(extract(epoch from app_private.publishing_lookahead()) / max_wakeups)::integer
        end as seconds
    )
    select coalesce(jsonb_agg(distinct wakeup.delay order by wakeup.delay), '[]')
    from due, bucket,
        lateral (select ceil(due.delay::numeric / bucket.seconds)::integer * bucket.seconds) as wakeup(delay)
$$;
revoke execute on function public.publishing_wakeups(integer) from public, anon, authenticated;
grant execute on function public.publishing_wakeups(integer) to service_role;
