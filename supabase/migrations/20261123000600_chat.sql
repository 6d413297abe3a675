-- Team chat: named team channels and direct channels between two members (one per pair and
-- team), their members, and messages with optional attachments in the private Storage bucket
-- `chat` under `<channel_id>/…`. Only a channel's members read and post; only its creator or,
-- for team channels, a team owner/admin deletes it. Channel membership references team
-- membership, so someone who leaves or is removed from a team loses its channels at once.
-- Clients follow new rows through Realtime postgres_changes (RLS applies) and use private
-- Realtime channels `chat:<channel_id>` for broadcast and presence (typing indicators).
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('chat', 'chat', false, 20 * 1024 * 1024,
        array['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'video/mp4', 'video/quicktime', 'video/webm',
              'application/pdf'])
on conflict (id) do update
set public = excluded.public, file_size_limit = excluded.file_size_limit,
    allowed_mime_types = excluded.allowed_mime_types;

create type public.chat_channel_kind as enum ('team', 'direct');

create table public.chat_channels (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    kind public.chat_channel_kind not null,
    name text check (name = btrim(name) and char_length(name) between 1 and 100),
    -- A direct channel's two members, lower id first, so either side finds the same channel.
    direct_user_low uuid,
    direct_user_high uuid,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (id, team_id),
    check (case kind
        when 'team' then name is not null and direct_user_low is null and direct_user_high is null
        else name is null and direct_user_low < direct_user_high
    end)
);
comment on table public.chat_channels is
    'Chat channels: named team channels and direct channels. Created with create_chat_channel() / open_direct_channel().';
create unique index chat_channels_direct_pair_idx
    on public.chat_channels (team_id, direct_user_low, direct_user_high) where kind = 'direct';
create index chat_channels_team_id_idx on public.chat_channels (team_id);
create index chat_channels_created_by_idx on public.chat_channels (created_by);

create table public.chat_channel_members (
    channel_id uuid not null,
    team_id uuid not null,
    user_id uuid not null,
    created_at timestamptz not null default now(),
    primary key (channel_id, user_id),
    foreign key (channel_id, team_id) references public.chat_channels (id, team_id) on delete cascade,
    foreign key (team_id, user_id) references public.team_members (team_id, user_id) on delete cascade
);
comment on table public.chat_channel_members is 'Who is in which chat channel; only teammates can be added.';
create index chat_channel_members_user_id_idx on public.chat_channel_members (user_id);
create index chat_channel_members_team_id_user_id_idx on public.chat_channel_members (team_id, user_id);

create table public.chat_messages (
    id bigint generated always as identity primary key,
    channel_id uuid not null references public.chat_channels (id) on delete cascade,
    sender_id uuid default auth.uid() references auth.users (id) on delete set null,
    body text check (char_length(body) between 1 and 10000),
    -- The attachment's object name in the `chat` bucket, under the channel's folder.
    attachment_path text check (attachment_path like channel_id::text || '/_%' and char_length(attachment_path) <= 1024),
    attachment_mime_type text check (char_length(attachment_mime_type) <= 255),
    attachment_size bigint check (attachment_size >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (body is not null or attachment_path is not null),
    check ((attachment_path is null) = (attachment_mime_type is null))
);
comment on table public.chat_messages is
    'Chat messages; page through history with id < last seen id, newest first.';
create index chat_messages_channel_id_id_idx on public.chat_messages (channel_id, id desc);
create index chat_messages_sender_id_idx on public.chat_messages (sender_id);

create trigger set_updated_at
    before update on public.chat_channels
    for each row execute function app_private.set_updated_at();

create trigger set_updated_at
    before update on public.chat_messages
    for each row execute function app_private.set_updated_at();

create trigger queue_object_removal
    after delete on public.chat_messages
    for each row execute function app_private.queue_object_removal('chat', 'attachment_path');

-- The channels the signed-in user is a member of; used (and written) like user_team_ids().
create function app_private.user_channel_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(array_agg(m.channel_id), '{}')
        from public.chat_channel_members as m
        where m.user_id = (select auth.uid())
    );
end
$$;

alter table public.chat_channels enable row level security;
alter table public.chat_channel_members enable row level security;
alter table public.chat_messages enable row level security;
revoke all on public.chat_channels, public.chat_channel_members, public.chat_messages from anon, authenticated;
grant select, delete on public.chat_channels to authenticated;
grant update (name) on public.chat_channels to authenticated;
grant select, insert (channel_id, team_id, user_id), delete on public.chat_channel_members to authenticated;
grant select, delete on public.chat_messages to authenticated;
grant insert (channel_id, body, attachment_path, attachment_mime_type, attachment_size) on public.chat_messages to authenticated;
grant update (body) on public.chat_messages to authenticated;
grant select, insert, update, delete on public.chat_channels, public.chat_channel_members, public.chat_messages
    to service_role;

-- Owners/admins also see their team's (not direct) channels, so they can moderate them.
create policy "Members can read their channels"
    on public.chat_channels for select to authenticated
    using (id = any ((select app_private.user_channel_ids())::uuid[])
        or (kind = 'team' and team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[])));

create policy "Creators and team owners/admins can rename team channels"
    on public.chat_channels for update to authenticated
    using (kind = 'team' and (
        (created_by = (select auth.uid()) and id = any ((select app_private.user_channel_ids())::uuid[]))
        or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[])))
    with check (kind = 'team' and (
        (created_by = (select auth.uid()) and id = any ((select app_private.user_channel_ids())::uuid[]))
        or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[])));

create policy "Creators and team owners/admins can delete channels"
    on public.chat_channels for delete to authenticated
    using ((created_by = (select auth.uid()) and id = any ((select app_private.user_channel_ids())::uuid[]))
        or (kind = 'team' and team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[])));

create policy "Members can see who is in their channels"
    on public.chat_channel_members for select to authenticated
    using (channel_id = any ((select app_private.user_channel_ids())::uuid[]));

-- The foreign keys make sure the added user belongs to the channel's team.
create policy "Members can add teammates to their team channels"
    on public.chat_channel_members for insert to authenticated
    with check (channel_id = any ((select app_private.user_channel_ids())::uuid[])
        and exists (select from public.chat_channels as c where c.id = channel_id and c.kind = 'team'));

create policy "Members can leave channels and creators can remove members"
    on public.chat_channel_members for delete to authenticated
    using (channel_id = any ((select app_private.user_channel_ids())::uuid[])
        and (user_id = (select auth.uid())
            or exists (select from public.chat_channels as c
                       where c.id = channel_id and c.created_by = (select auth.uid()))));

create policy "Members can read their channels' messages"
    on public.chat_messages for select to authenticated
    using (channel_id = any ((select app_private.user_channel_ids())::uuid[]));

create policy "Members can post to their channels"
    on public.chat_messages for insert to authenticated
    with check (channel_id = any ((select app_private.user_channel_ids())::uuid[]) and sender_id = (select auth.uid()));

create policy "Senders can edit their messages"
    on public.chat_messages for update to authenticated
    using (channel_id = any ((select app_private.user_channel_ids())::uuid[]) and sender_id = (select auth.uid()))
    with check (channel_id = any ((select app_private.user_channel_ids())::uuid[]) and sender_id = (select auth.uid()));

create policy "Senders can delete their messages"
    on public.chat_messages for delete to authenticated
    using (channel_id = any ((select app_private.user_channel_ids())::uuid[]) and sender_id = (select auth.uid()));

-- Any team member opens a named channel with some teammates; returns its id.
create function public.create_chat_channel(team_id uuid, name text, member_ids uuid[] default '{}')
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
    caller uuid := (select auth.uid());
    channel_id uuid;
begin
    if not (team_id = any (app_private.user_team_ids())) then
        raise exception 'only team members can create channels' using errcode = '42501';
    end if;
    if exists (
        select from unnest(member_ids) as u (id)
        where not exists (select from public.team_members as m
                          where m.team_id = create_chat_channel.team_id and m.user_id = u.id)
    ) then
        raise exception 'every channel member must belong to the team' using errcode = '22023';
    end if;
    insert into public.chat_channels (team_id, kind, name, created_by)
    values (team_id, 'team', name, caller)
    returning id into channel_id;
    insert into public.chat_channel_members (channel_id, team_id, user_id)
    select distinct channel_id, team_id, u.id from unnest(member_ids || caller) as u (id);
    return channel_id;
end
$$;
comment on function public.create_chat_channel(uuid, text, uuid[]) is
    'Team member: create a named channel with the caller and the given teammates; returns its id.';

-- The direct channel between the caller and a teammate, created on first use; returns its id.
create function public.open_direct_channel(team_id uuid, user_id uuid)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    caller uuid := (select auth.uid());
    channel_id uuid;
begin
    if user_id = caller then
        raise exception 'a direct channel is between two different members' using errcode = '22023';
    end if;
    if (select count(*) from public.team_members as m
        where m.team_id = open_direct_channel.team_id and m.user_id in (caller, open_direct_channel.user_id)) <> 2
    then
        raise exception 'both people must be members of the team' using errcode = '42501';
    end if;
    insert into public.chat_channels (team_id, kind, direct_user_low, direct_user_high, created_by)
    values (team_id, 'direct', least(caller, user_id), greatest(caller, user_id), caller)
    on conflict (team_id, direct_user_low, direct_user_high) where kind = 'direct' do nothing
    returning id into channel_id;
    if channel_id is null then
        select c.id into channel_id from public.chat_channels as c
        where c.team_id = open_direct_channel.team_id and c.kind = 'direct'
          and c.direct_user_low = least(caller, user_id) and c.direct_user_high = greatest(caller, user_id);
    end if;
    -- Also restores the membership of someone who left the team and came back.
    insert into public.chat_channel_members (channel_id, team_id, user_id)
    values (channel_id, team_id, caller), (channel_id, team_id, user_id)
    on conflict do nothing;
    return channel_id;
end
$$;
comment on function public.open_direct_channel(uuid, uuid) is
    'Team member: the direct channel with a teammate, created on first use; returns its id.';

revoke execute on function public.create_chat_channel(uuid, text, uuid[]), public.open_direct_channel(uuid, uuid)
    from public, anon;
grant execute on function public.create_chat_channel(uuid, text, uuid[]), public.open_direct_channel(uuid, uuid)
    to authenticated, service_role;

-- Attachments: channel members read and upload; objects go away with their message.
create policy "Channel members can read chat attachments"
    on storage.objects for select to authenticated
    using (bucket_id = 'chat'
        and (storage.foldername(name))[1] = any ((select app_private.user_channel_ids())::text[]));

create policy "Channel members can upload chat attachments"
    on storage.objects for insert to authenticated
    with check (bucket_id = 'chat'
        and (storage.foldername(name))[1] = any ((select app_private.user_channel_ids())::text[]));

alter publication supabase_realtime add table public.chat_channels, public.chat_channel_members, public.chat_messages;

-- Private Realtime channels: Realtime checks these policies, with realtime.topic() set to the
-- channel being joined, before letting a user receive (select) or send (insert) on it.
create policy "Chat channel members can receive broadcast and presence"
    on realtime.messages for select to authenticated
    using (extension in ('broadcast', 'presence')
        and (select realtime.topic()) like 'chat:%'
        and substr((select realtime.topic()), 6) = any ((select app_private.user_channel_ids())::text[]));

create policy "Chat channel members can send broadcast and presence"
    on realtime.messages for insert to authenticated
    with check (extension in ('broadcast', 'presence')
        and (select realtime.topic()) like 'chat:%'
        and substr((select realtime.topic()), 6) = any ((select app_private.user_channel_ids())::text[]));
