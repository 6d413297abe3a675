-- What trips clients of the Data API (issue #26): team members embed their profiles, a
-- destination takes its team from its post, attachments and library assets take their type and
-- size from Storage (and must name an uploaded file), check constraints say what failed, edits of
-- a submitted post are refused with `post_not_editable` instead of matching nothing, and an
-- `avatars` bucket for `profiles.avatar_url`.

-- 1. `team_members?select=*,profiles(*)`: PostgREST embeds along a foreign key into an exposed
-- schema; the key to auth.users is not one. Every user has a profile (the sign-up trigger).
alter table public.team_members add constraint team_members_user_id_profile_fkey
    foreign key (user_id) references public.profiles (id) on delete cascade;

-- 2. A destination inserted without `team_id` takes its post's. As the caller (RLS): a post the
-- caller cannot read is reported like one that does not exist.
create function app_private.take_destination_team_from_post()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.team_id is null then
        select p.team_id into new.team_id from public.scheduled_posts as p where p.id = new.post_id;
        if not found then
            raise exception 'post_id: no post % of your teams', new.post_id
                using errcode = '23503', hint = 'Insert the post first, then its destinations.';
        end if;
    end if;
    return new;
end
$$;
revoke execute on function app_private.take_destination_team_from_post() from public;
-- Named to run before `check_connection`, which compares the connection's team with it.
create trigger assign_team_from_post before insert on public.post_destinations
    for each row execute function app_private.take_destination_team_from_post();

-- 3. Types and sizes from Storage's own metadata. A row naming a path its checks accept must name
-- an uploaded object; a path they refuse is left to them, so the error names the rule it breaks.
-- No row when the object does not exist.
create function app_private.storage_object_facts(bucket text, path text)
returns table (mime_type text, size_bytes bigint)
language sql
stable
security definer
set search_path = ''
as $$
    select nullif(pg_catalog.lower(pg_catalog.split_part(o.metadata ->> 'mimetype', ';', 1)), ''),
           case when o.metadata ->> 'size' ~ '^[0-9]{1,18}$' then (o.metadata ->> 'size')::bigint end
    from storage.objects as o
    where o.bucket_id = bucket and o.name = path
$$;
revoke execute on function app_private.storage_object_facts(text, text) from public;

create function app_private.raise_missing_object(bucket text, path_column text, path text)
returns void
language plpgsql
set search_path = ''
as $$
begin
    raise exception '%: no uploaded file "%" in the % bucket', path_column, path, bucket
        using errcode = '23503', hint = 'Upload the file to Storage first, then write the row that names it.';
end
$$;
revoke execute on function app_private.raise_missing_object(text, text, text) from public;

create or replace function app_private.take_library_object_facts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    facts record;
begin
    select * into facts from app_private.storage_object_facts('library', new.object_path);
    if not found and tg_op = 'INSERT'
       and new.object_path like new.team_id::text || '/_%' and app_private.is_safe_object_path(new.object_path) then
        perform app_private.raise_missing_object('library', 'object_path', new.object_path);
    end if;
    new.size_bytes := facts.size_bytes;
    if facts.mime_type ~ '^(image|video)/[a-z0-9.+-]+$' then
        new.mime_type := facts.mime_type;
    elsif tg_op = 'UPDATE' then
        new.mime_type := old.mime_type;
    end if;
    return new;
end
$$;

create function app_private.take_chat_attachment_facts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    facts record;
begin
    if new.attachment_path is null then
        new.attachment_mime_type := null;
        new.attachment_size := null;
        return new;
    end if;
    select * into facts from app_private.storage_object_facts('chat', new.attachment_path);
    if not found
       and new.attachment_path like new.channel_id::text || '/_%' and app_private.is_safe_object_path(new.attachment_path) then
        perform app_private.raise_missing_object('chat', 'attachment_path', new.attachment_path);
    end if;
    new.attachment_mime_type := coalesce(facts.mime_type, new.attachment_mime_type);
    new.attachment_size := coalesce(facts.size_bytes, new.attachment_size);
    return new;
end
$$;
revoke execute on function app_private.take_chat_attachment_facts() from public;
create trigger take_attachment_facts before insert or update of attachment_path on public.chat_messages
    for each row execute function app_private.take_chat_attachment_facts();

-- Check constraints PostgreSQL named `<table>_check<n>` say nothing of what failed.
alter table public.team_invitations rename constraint team_invitations_check to team_invitations_responded_at_iff_answered;
alter table public.content_library_assets rename constraint content_library_assets_check to content_library_assets_object_path_in_team_folder;
alter table public.chat_channels rename constraint chat_channels_check to chat_channels_team_named_or_direct_pair;
alter table public.chat_messages rename constraint chat_messages_check to chat_messages_attachment_path_in_channel_folder;
alter table public.chat_messages rename constraint chat_messages_check1 to chat_messages_body_or_attachment_required;
alter table public.chat_messages rename constraint chat_messages_check2 to chat_messages_attachment_type_required;
alter table public.ai_provider_configs rename constraint ai_provider_configs_check to ai_provider_configs_one_owner_user_or_team;
alter table public.ai_provider_configs rename constraint ai_provider_configs_check1 to ai_provider_configs_api_key_with_version;
alter table public.ai_provider_configs rename constraint ai_provider_configs_check2 to ai_provider_configs_compatible_needs_base_url;
alter table public.content_batches rename constraint content_batches_check to content_batches_finished_within_total;
alter table public.content_jobs rename constraint content_jobs_check to content_jobs_current_step_within_steps;
alter table public.content_jobs rename constraint content_jobs_check1 to content_jobs_batch_id_with_batch_index;
alter table public.content_jobs rename constraint content_jobs_check2 to content_jobs_team_records_need_team;
alter table public.assets rename constraint assets_check to assets_storage_path_in_owner_folder;

-- 4. A client's edit or delete of a post that is no longer a draft (or of a destination that is
-- no longer one) is refused with 409 `post_not_editable`, not answered with nothing: the write
-- policies only say whose rows they are, and this trigger says when. PostgREST turns a
-- `PGRST` raise into the response whose body is the message and whose status is the detail's.
-- The worker's RPCs (security definer, so not `authenticated`) move submitted posts on.
create function app_private.refuse_change_of_submitted_post()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    -- As `app_private.post_is_editable`, read as the caller (who reads their team's destinations).
    submitted boolean := case tg_table_name
        when 'scheduled_posts' then exists (
            select from public.post_destinations as d
            where d.post_id = (pg_catalog.to_jsonb(old) ->> 'id')::uuid and d.status <> 'draft')
        else pg_catalog.to_jsonb(old) ->> 'status' <> 'draft' end;
begin
    if current_user = 'authenticated' and submitted then
        raise sqlstate 'PGRST' using
            message = pg_catalog.json_build_object(
                'code', 'post_not_editable',
                'message', 'The post was submitted (scheduled, sent for approval, publishing or done); it can no longer be changed.',
                'hint', 'Cancel it with POST /v1/posts/{id}/cancel, or a reviewer rejects it, to edit it again.')::text,
            detail = '{"status": 409, "headers": {}}';
    end if;
    return case tg_op when 'DELETE' then old else new end;
end
$$;
revoke execute on function app_private.refuse_change_of_submitted_post() from public;
create trigger refuse_change_when_submitted before update or delete on public.scheduled_posts
    for each row execute function app_private.refuse_change_of_submitted_post();
create trigger refuse_change_when_submitted before update or delete on public.post_destinations
    for each row execute function app_private.refuse_change_of_submitted_post();

alter policy "Authors, owners and admins can edit drafts" on public.scheduled_posts
    using (created_by = (select auth.uid()) or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]));
alter policy "Authors, owners and admins can delete drafts" on public.scheduled_posts
    using (created_by = (select auth.uid()) or team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[]));
alter policy "Members can change their team's draft destinations" on public.post_destinations
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));
alter policy "Members can remove their team's draft destinations" on public.post_destinations
    using (team_id = any ((select app_private.user_team_ids())::uuid[]));

-- 5. Avatars: public (an avatar shows wherever the person does, as `profiles.avatar_url`, a
-- plain https URL: `/storage/v1/object/public/avatars/<uid>/<file>`); each user writes only the
-- folder named after their id. Small images only; no SVG (it can carry script).
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('avatars', 'avatars', true, 2097152, '{image/png,image/jpeg,image/webp,image/gif}');

create policy "Users can list their own avatars"
    on storage.objects for select to authenticated
    using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "Users can upload their own avatars"
    on storage.objects for insert to authenticated
    with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text
                and app_private.is_safe_object_path(name));
create policy "Users can replace their own avatars"
    on storage.objects for update to authenticated
    using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text)
    with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text
                and app_private.is_safe_object_path(name));
create policy "Users can delete their own avatars"
    on storage.objects for delete to authenticated
    using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
