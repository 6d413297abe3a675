-- One windowed rate limit for every action that costs money, e-mail, queue work or a platform
-- call (issue #17): AI requests per plan (reserve_ai_credits), and the actions listed in
-- app_private.rate_limits (take_rate_limit). The per-minute AI window it replaces is dropped.

-- ---------------------------------------------------------------------------------------------
-- Rate limits: one fixed window per subject (a user or a team) and action. The limits are
-- constants here (documented in docs/contract.md); edit a row to change one.
create table app_private.rate_limits (
    action text primary key check (action ~ '^[a-z_]{1,40}$'),
    per_window integer not null check (per_window > 0),
    window_length interval not null check (window_length between interval '1 second' and interval '1 day')
);
insert into app_private.rate_limits (action, per_window, window_length) values
    -- Per user: single content jobs, and batches (each queues worker calls through pg_net).
    ('content_job', 60, '10 minutes'),
    ('content_batch', 10, '1 hour'),
    -- Per user: authorizations started (each stores a state and sends the browser to a platform).
    ('oauth_start', 20, '10 minutes'),
    -- Per inviting user, and per team: invitations (each may make Supabase Auth send an e-mail).
    ('invitation', 20, '1 hour'),
    ('team_invitation', 50, '1 day'),
    -- Per user: connection checks (each calls the platform with the team's token).
    ('connection_verify', 60, '10 minutes'),
    -- Per team: posts scheduled or published now (each may call the worker through pg_net).
    ('post_submit', 120, '1 hour');

create table app_private.rate_windows (
    subject uuid not null,
    -- An action of rate_limits, or `ai_request` (limited per plan by reserve_ai_credits).
    action text not null check (action ~ '^[a-z_]{1,40}$'),
    window_start timestamptz not null,
    count integer not null check (count > 0),
    primary key (subject, action)
);

-- Counts one `action` of `subject` in the current fixed window of `window_length`, unless the
-- window already holds `per_window`: then nothing changes and the answer is the seconds until
-- the window ends (0 when counted). One conditional upsert of a single row, so concurrent
-- callers never count past the limit; the count is part of the caller's transaction.
create function app_private.count_in_window(
    subject uuid, action text, per_window integer, window_length interval
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
    this_window timestamptz := date_bin(window_length, now(), timestamptz '2000-01-01 00:00:00+00');
begin
    insert into app_private.rate_windows as w (subject, action, window_start, count)
    values (subject, action, this_window, 1)
    on conflict on constraint rate_windows_pkey do update
        set window_start = this_window,
            count = case when w.window_start = this_window then w.count + 1 else 1 end
        where w.window_start <> this_window or w.count < per_window;
    if found then
        return 0;
    end if;
    return greatest(ceil(extract(epoch from this_window + window_length - now()))::integer, 1);
end
$$;
revoke execute on function app_private.count_in_window(uuid, text, integer, interval) from public;

drop table app_private.ai_rate_windows;

-- Counts one `action` of `subject`, or raises SQLSTATE PR429 (the worker answers 429
-- `rate_limited`, with the seconds until the window ends as HINT and Retry-After) when the
-- window is full. A refused attempt changes nothing, and neither does one whose transaction
-- fails afterwards: the count is part of the caller's transaction. Race-free for the same
-- reason as the AI window: one conditional upsert of a single row.
create function app_private.take_rate_limit(subject uuid, action text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    rule app_private.rate_limits;
    retry_after integer;
begin
    select r.* into rule from app_private.rate_limits as r where r.action = take_rate_limit.action;
    if rule is null then
        raise exception 'no rate limit is defined for %', action;
    end if;
    retry_after := app_private.count_in_window(subject, action, rule.per_window, rule.window_length);
    if retry_after > 0 then
        raise exception 'Too many requests of this kind (%). Retry in % seconds.', action, retry_after
            using errcode = 'PR429', hint = retry_after::text;
    end if;
end
$$;
revoke execute on function app_private.take_rate_limit(uuid, text) from public;

