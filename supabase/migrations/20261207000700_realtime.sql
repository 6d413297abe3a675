-- Realtime: a content job's state and progress (state, current_step of steps_total) reach its
-- readers live through postgres_changes, as chat and post destinations already do; Realtime
-- delivers a change only to subscribers whose select policy shows them the row.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

alter publication supabase_realtime add table public.content_jobs;
