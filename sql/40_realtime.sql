-- Local stand-in for what Supabase Realtime keeps in the database: the broadcast/presence
-- authorization table (RLS policies on it decide who may join private channels), the
-- topic helper those policies call, and the publication postgres_changes listens on.
create schema realtime;
grant usage on schema realtime to anon, authenticated, service_role;

-- Realtime partitions this table by day and creates the partitions itself; without that
-- service a plain table is the faithful equivalent.
create table realtime.messages (
    topic text not null,
    extension text not null,
    payload jsonb,
    event text,
    private boolean default false,
    updated_at timestamp not null default now(),
    inserted_at timestamp not null default now(),
    id uuid not null default gen_random_uuid(),
    primary key (id, inserted_at)
);
create index messages_topic_index on realtime.messages (topic);
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- Realtime sets `realtime.topic` to the channel being joined before evaluating policies.
create function realtime.topic()
returns text
language sql stable
as $$
select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Empty, as on a new project: migrations add the tables whose changes clients may follow.
create publication supabase_realtime;
