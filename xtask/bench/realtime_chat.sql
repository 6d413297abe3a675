-- Issue 19's Realtime bench: one team of 100 members, all in one chat channel; and, as the floor,
-- a trigger that sends each new message's id with NOTIFY to plain listeners.
insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', ('00000000-0000-4000-a000-' || lpad(i::text, 12, '0'))::uuid,
       'authenticated', 'authenticated', 'realtime-' || i || '@bench.local', now(),
       '{"provider": "email", "providers": ["email"]}', '{}', now(), now()
from generate_series(1, 100) as i;

insert into public.teams (id, name, member_cap)
values ('00000000-0000-4000-b000-000000000001', 'Realtime bench', 100);
insert into public.team_members (team_id, user_id, role)
select '00000000-0000-4000-b000-000000000001', ('00000000-0000-4000-a000-' || lpad(i::text, 12, '0'))::uuid,
       case when i = 1 then 'owner' else 'member' end::public.team_role
from generate_series(1, 100) as i;
insert into public.chat_channels (id, team_id, kind, name)
values ('00000000-0000-4000-c000-000000000001', '00000000-0000-4000-b000-000000000001', 'team', 'bench');
insert into public.chat_channel_members (channel_id, team_id, user_id)
select '00000000-0000-4000-c000-000000000001', '00000000-0000-4000-b000-000000000001',
       ('00000000-0000-4000-a000-' || lpad(i::text, 12, '0'))::uuid
from generate_series(1, 100) as i;

create function public.bench_notify_chat_message() returns trigger
language plpgsql as $$
begin
    perform pg_notify('bench_chat', new.id::text);
    return null;
end;
$$;
create trigger bench_notify after insert on public.chat_messages
    for each row execute function public.bench_notify_chat_message();
