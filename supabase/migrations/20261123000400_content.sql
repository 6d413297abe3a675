-- Campaign content: personas, operators, campaigns and content drafts. All team-scoped with
-- the same rules, applied by app_private.make_team_scoped(): every member reads and writes,
-- owners/admins delete, created_by/created_at/updated_at are kept by a trigger, and a row
-- never moves to another team. References between these tables stay inside one team through
-- composite (team_id, id) foreign keys.
--
-- Runs unchanged on hosted Supabase (as `postgres`) and on the local stack.

-- On insert the author is the caller (a server-side insert without a user keeps the given
-- value); on update the authorship and creation time cannot change.
create function app_private.stamp_team_row()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        new.created_by := coalesce((select auth.uid()), new.created_by);
        new.created_at := now();
    else
        new.created_by := old.created_by;
        new.created_at := old.created_at;
    end if;
    new.updated_at := now();
    return new;
end
$$;

-- The standard setup of a team-scoped table (team_id, created_by, created_at, updated_at
-- columns): RLS with member read/insert/update and owner/admin delete, the stamping trigger,
-- the index policies and team listings use, and grants. Clients may update every column but
-- the id, the team and the stamps; a column added later needs its own update grant.
create procedure app_private.make_team_scoped(tbl regclass)
language plpgsql
set search_path = ''
as $$
declare
    updatable text;
begin
    select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into updatable
    from pg_catalog.pg_attribute as a
    where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped
      and a.attname not in ('id', 'team_id', 'created_by', 'created_at', 'updated_at');

    execute format('alter table %s enable row level security', tbl);
    execute format('revoke all on %s from anon, authenticated', tbl);
    execute format('grant select, insert, delete on %s to authenticated', tbl);
    execute format('grant update (%s) on %s to authenticated', updatable, tbl);
    execute format('grant select, insert, update, delete on %s to service_role', tbl);

    execute format('create index on %s (team_id, created_at desc)', tbl);
    execute format(
        'create trigger stamp before insert or update on %s for each row execute function app_private.stamp_team_row()',
        tbl);

    execute format($p$create policy "Members can read their team's rows" on %s for select to authenticated
        using (team_id = any ((select app_private.user_team_ids())::uuid[])) $p$, tbl);
    execute format($p$create policy "Members can add rows to their team" on %s for insert to authenticated
        with check (team_id = any ((select app_private.user_team_ids())::uuid[])) $p$, tbl);
    execute format($p$create policy "Members can edit their team's rows" on %s for update to authenticated
        using (team_id = any ((select app_private.user_team_ids())::uuid[]))
        with check (team_id = any ((select app_private.user_team_ids())::uuid[])) $p$, tbl);
    execute format($p$create policy "Owners and admins can delete their team's rows" on %s for delete to authenticated
        using (team_id = any ((select app_private.user_team_ids('{owner,admin}'))::uuid[])) $p$, tbl);
end
$$;
revoke execute on procedure app_private.make_team_scoped(regclass) from public;

create type public.rst_level as enum ('Not Assessed', 'Low', 'Medium', 'High');

create table public.personas (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    name text not null check (name = btrim(name) and char_length(name) between 1 and 100),
    demographics jsonb not null default '{}'
        check (jsonb_typeof(demographics) = 'object' and octet_length(demographics::text) <= 16384),
    psychographics jsonb not null default '{}'
        check (jsonb_typeof(psychographics) = 'object' and octet_length(psychographics::text) <= 16384),
    initial_beliefs text check (char_length(initial_beliefs) <= 10000),
    vulnerabilities text[] not null default '{}' check (cardinality(vulnerabilities) <= 50),
    avatar_url text check (avatar_url ~ '^https?://' and char_length(avatar_url) <= 2048),
    -- Reinforcement Sensitivity Theory: behavioural approach / inhibition, fight-flight-freeze.
    rst_bas public.rst_level not null default 'Not Assessed',
    rst_bis public.rst_level not null default 'Not Assessed',
    rst_fffs public.rst_level not null default 'Not Assessed',
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, id)
);
comment on table public.personas is 'Audience personas a team writes content for.';

create table public.operators (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    name text not null check (name = btrim(name) and char_length(name) between 1 and 100),
    description text check (char_length(description) <= 10000),
    persona_id uuid,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    foreign key (team_id, persona_id) references public.personas (team_id, id) on delete set null (persona_id)
);
comment on table public.operators is 'Operators of a team, optionally acting as one of its personas.';
create index operators_persona_id_idx on public.operators (persona_id);

create type public.campaign_status as enum ('draft', 'active', 'paused', 'completed');

create table public.campaigns (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    name text not null check (name = btrim(name) and char_length(name) between 1 and 200),
    description text check (char_length(description) <= 10000),
    brand_name text check (char_length(brand_name) <= 200),
    target_audience text check (char_length(target_audience) <= 10000),
    tone text check (char_length(tone) <= 1000),
    status public.campaign_status not null default 'draft',
    -- Soft delete: set by an owner/admin (guarded below); clients hide rows where it is set.
    deleted_at timestamptz,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, id)
);
comment on table public.campaigns is 'Marketing campaigns; soft-deleted by setting deleted_at (owner/admin).';

create table public.content_drafts (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references public.teams (id) on delete cascade,
    campaign_id uuid,
    persona_id uuid,
    title text check (char_length(title) <= 300),
    -- {"<platform>": {content, hashtags, media_type, image_source, image_prompt,
    --                 library_asset_id, meme_text, video_idea}, …}; shape checked by trigger.
    platform_contents jsonb not null default '{}' check (octet_length(platform_contents::text) <= 262144),
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    foreign key (team_id, campaign_id) references public.campaigns (team_id, id) on delete cascade,
    foreign key (team_id, persona_id) references public.personas (team_id, id) on delete set null (persona_id)
);
comment on table public.content_drafts is 'Post drafts, one entry per social platform in platform_contents.';
create index content_drafts_campaign_id_idx on public.content_drafts (campaign_id);
create index content_drafts_persona_id_idx on public.content_drafts (persona_id);

call app_private.make_team_scoped('public.personas');
call app_private.make_team_scoped('public.operators');
call app_private.make_team_scoped('public.campaigns');
call app_private.make_team_scoped('public.content_drafts');

-- Soft delete follows the delete rule: only an owner/admin may set or clear deleted_at.
-- Security definer: the client running the update has no USAGE on app_private.
create function app_private.guard_campaign_soft_delete()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if (select auth.uid()) is not null
        and not (old.team_id = any (app_private.user_team_ids('{owner,admin}')))
    then
        raise exception 'only the team''s owner or an admin can delete or restore a campaign'
            using errcode = '42501';
    end if;
    return new;
end
$$;

create trigger guard_soft_delete
    before update of deleted_at on public.campaigns
    for each row when (new.deleted_at is distinct from old.deleted_at)
    execute function app_private.guard_campaign_soft_delete();

-- Rejects a malformed platform_contents with the path of the first problem, so clients get
-- "platform_contents.instagram.hashtags: …" rather than a bare constraint name.
create function app_private.check_platform_contents()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    platform text;
    fields jsonb;
    field text;
    value jsonb;
    problem text;
begin
    if jsonb_typeof(new.platform_contents) <> 'object' then
        raise exception 'platform_contents must be an object keyed by platform' using errcode = 'check_violation';
    end if;
    for platform, fields in select * from jsonb_each(new.platform_contents) loop
        if platform not in ('facebook', 'instagram', 'x', 'linkedin', 'tiktok', 'youtube', 'threads', 'pinterest', 'bluesky') then
            raise exception 'platform_contents: unknown platform "%"', platform using errcode = 'check_violation',
                hint = 'Platforms: facebook, instagram, x, linkedin, tiktok, youtube, threads, pinterest, bluesky.';
        end if;
        if jsonb_typeof(fields) <> 'object' then
            raise exception 'platform_contents.%: must be an object', platform using errcode = 'check_violation';
        end if;
        for field, value in select * from jsonb_each(fields) loop
            -- JSON null means "not set" for every field.
            problem := case
                when jsonb_typeof(value) = 'null' then null
                when field in ('content', 'image_prompt', 'meme_text', 'video_idea') then
                    case when jsonb_typeof(value) <> 'string' then 'must be a string' end
                when field = 'hashtags' then
                    case when jsonb_typeof(value) <> 'array' or exists (
                        select from jsonb_array_elements(value) as tag
                        where jsonb_typeof(tag) <> 'string' or tag #>> '{}' !~ '^#?[^\s#]+$'
                    ) then 'must be an array of hashtags without spaces' end
                when field = 'media_type' then
                    case when value #>> '{}' not in ('text', 'image', 'video', 'carousel') or jsonb_typeof(value) <> 'string'
                    then 'must be one of text, image, video, carousel' end
                when field = 'image_source' then
                    case when value #>> '{}' not in ('ai_generated', 'library', 'upload') or jsonb_typeof(value) <> 'string'
                    then 'must be one of ai_generated, library, upload' end
                when field = 'library_asset_id' then
                    case when jsonb_typeof(value) <> 'string'
                        or value #>> '{}' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                    then 'must be a uuid string' end
                else 'is not a known field'
            end;
            if problem is not null then
                raise exception 'platform_contents.%.%: %', platform, field, problem using errcode = 'check_violation';
            end if;
        end loop;
    end loop;
    return new;
end
$$;

create trigger check_platform_contents
    before insert or update of platform_contents on public.content_drafts
    for each row execute function app_private.check_platform_contents();
