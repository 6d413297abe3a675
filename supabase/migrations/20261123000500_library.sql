-- The content library: images and videos a team keeps in the private Storage bucket
-- `library`, under `<team_id>/…`, with one content_library_assets row each. Only the team's
-- members read and write its objects; deleting an asset row queues its object for removal.
--
-- Object removal is queued, not done here: Supabase forbids deleting from storage.objects in
-- SQL (the file would stay in the object store). The worker's cron endpoint
-- (`/v1/cron/storage/cleanup`, every five minutes) claims queued objects under a lease, removes
-- them through the Storage API and then finishes their entries; an entry whose removal failed
-- comes back when its lease runs out.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('library', 'library', false, 50 * 1024 * 1024,
        array['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'video/mp4', 'video/quicktime', 'video/webm'])
on conflict (id) do update
set public = excluded.public, file_size_limit = excluded.file_size_limit,
    allowed_mime_types = excluded.allowed_mime_types;

create table public.content_library_assets (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    -- The object's name in the `library` bucket; fixed once the row exists.
    object_path text not null unique
        check (object_path like team_id::text || '/_%' and char_length(object_path) <= 1024),
    title text check (char_length(title) <= 300),
    mime_type text not null check (mime_type ~ '^(image|video)/[a-z0-9.+-]+$'),
    size_bytes bigint check (size_bytes >= 0),
    tags text[] not null default '{}' check (cardinality(tags) <= 50),
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.content_library_assets is
    'Images and videos in the team''s library; the file is the object at object_path in the library bucket.';

call app_private.make_team_scoped('public.content_library_assets');
revoke update (object_path) on public.content_library_assets from authenticated;

create table app_private.storage_cleanup_queue (
    id bigint generated always as identity primary key,
    bucket_id text not null,
    object_name text not null,
    queued_at timestamptz not null default now(),
    -- While a worker removes the object; the entry is claimable again once this has passed.
    claimed_until timestamptz,
    -- Claims so far: after 20 the entry is no longer handed out and waits for an operator.
    attempts integer not null default 0
);

-- After delete: queue the object named by column TG_ARGV[1] of the deleted row, in bucket
-- TG_ARGV[0]. Security definer: the deleting client has no rights on app_private.
create function app_private.queue_object_removal()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    object_name text := to_jsonb(old) ->> tg_argv[1];
begin
    if object_name is not null then
        insert into app_private.storage_cleanup_queue (bucket_id, object_name) values (tg_argv[0], object_name);
    end if;
    return null;
end
$$;

create trigger queue_object_removal
    after delete on public.content_library_assets
    for each row execute function app_private.queue_object_removal('library', 'object_path');

-- Service role: lease up to batch_size queued objects to remove, oldest first, as a JSON array
-- of {id, bucket, name}. Concurrent callers get different entries (SKIP LOCKED); an entry
-- claimed 20 times without being finished is no longer handed out.
create function public.claim_storage_cleanup(batch_size integer default 100, lease_seconds integer default 300)
returns jsonb
language sql
security definer
set search_path = ''
as $$
    with claimed as (
        update app_private.storage_cleanup_queue as q
        set claimed_until = now() + make_interval(secs => lease_seconds), attempts = q.attempts + 1
        where q.id in (
            select c.id from app_private.storage_cleanup_queue as c
            where (c.claimed_until is null or c.claimed_until < now()) and c.attempts < 20
            order by c.id
            limit batch_size
            for update skip locked
        )
        returning q.id, q.bucket_id, q.object_name
    )
    select coalesce(jsonb_agg(jsonb_build_object('id', id, 'bucket', bucket_id, 'name', object_name)
                              order by id), '[]')
    from claimed
$$;
comment on function public.claim_storage_cleanup(integer, integer) is
    'Service role: lease Storage objects whose rows were deleted, for removal through the Storage API.';
revoke execute on function public.claim_storage_cleanup(integer, integer) from public, anon, authenticated;
grant execute on function public.claim_storage_cleanup(integer, integer) to service_role;

-- Service role: the entries whose objects are gone from Storage; how many were still queued.
create function public.finish_storage_cleanup(ids bigint[])
returns integer
language sql
security definer
set search_path = ''
as $$
    with finished as (
        delete from app_private.storage_cleanup_queue as q where q.id = any (ids) returning 1
    )
    select count(*)::integer from finished
$$;
revoke execute on function public.finish_storage_cleanup(bigint[]) from public, anon, authenticated;
grant execute on function public.finish_storage_cleanup(bigint[]) to service_role;

-- Storage runs these as the requesting user. The first folder of the object name is the team.
create policy "Team members can read their library objects"
    on storage.objects for select to authenticated
    using (bucket_id = 'library'
        and (storage.foldername(name))[1] = any ((select app_private.user_team_ids())::text[]));

create policy "Team members can upload library objects"
    on storage.objects for insert to authenticated
    with check (bucket_id = 'library'
        and (storage.foldername(name))[1] = any ((select app_private.user_team_ids())::text[]));

create policy "Team members can replace library objects"
    on storage.objects for update to authenticated
    using (bucket_id = 'library'
        and (storage.foldername(name))[1] = any ((select app_private.user_team_ids())::text[]))
    with check (bucket_id = 'library'
        and (storage.foldername(name))[1] = any ((select app_private.user_team_ids())::text[]));

-- Same rule as deleting the asset row.
create policy "Team owners and admins can delete library objects"
    on storage.objects for delete to authenticated
    using (bucket_id = 'library'
        and (storage.foldername(name))[1] = any ((select app_private.user_team_ids('{owner,admin}'))::text[]));
