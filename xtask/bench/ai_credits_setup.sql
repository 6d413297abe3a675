-- Bench users for the credit RPCs: 64 users on a plan that never runs out, so the bench
-- measures reserve + settle, not refusals.
insert into public.ai_plans (plan, monthly_credits, requests_per_minute) values ('bench', 1000000000000, 1000000000)
on conflict (plan) do nothing;
insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                        created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', format('00000000-0000-4000-a000-%s', lpad(n::text, 12, '0'))::uuid,
       'authenticated', 'authenticated', format('ai-bench-%s@bench.local', n), now(), '{}', '{}', now(), now()
from generate_series(1, 64) as n
on conflict do nothing;
insert into public.ai_subjects (subject_id, plan)
select format('00000000-0000-4000-a000-%s', lpad(n::text, 12, '0'))::uuid, 'bench' from generate_series(1, 64) as n
on conflict (subject_id) do update set plan = excluded.plan;
