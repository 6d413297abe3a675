-- A post that falls due before the next cron minute, but after this minute's run looked ahead,
-- goes out at its second too (#26). The minute's run sends wake-ups only for what was scheduled
-- when it ran; a post scheduled, approved or retried for 30 s from now would wait for the next
-- run. So when such a post is submitted, the worker is asked to run the sweep at once, which
-- sends the wake-ups for everything due before the next run (a doubled wake-up claims nothing).
-- Only a post's own submission asks (schedule, approval, retry): a retry the dispatcher itself
-- schedules after a failed attempt waits for the sweeps, so the sweep never calls itself.

-- Called when a post is submitted, approved or retried, after its destinations are scheduled.
create or replace function app_private.request_post_publishing(post_id uuid)
returns bigint
language sql
security definer
set search_path = ''
as $$
    select case
        -- Due now: the worker publishes this post alone, at once.
        when bool_or(d.next_attempt_at <= now())
            then app_private.request_worker('/v1/cron/publish?post_id=' || request_post_publishing.post_id)
        -- Due before the next run: the sweep sends the wake-up for its second.
        when bool_or(d.next_attempt_at <= now() + app_private.publishing_lookahead())
            then app_private.request_worker('/v1/cron/publish')
    end
    from public.post_destinations as d
    where d.post_id = request_post_publishing.post_id and d.status = 'scheduled'
$$;
revoke execute on function app_private.request_post_publishing(uuid) from public;
