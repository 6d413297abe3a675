-- A finished content job becomes a post of its team (`POST /v1/jobs/{job_id}/post`) in one
-- transaction: the post and every destination are written together or not at all, and once per
-- job. The post's `client_post_id` is `job:<job id>`, a key only this function writes (members'
-- inserts of `job:` keys are refused by RLS).
--
-- Answers `{"status": "not_found"}` (no such job, or not the user's to see), `"invalid_job_state"`
-- (a personal job, or one not done), `"existing"` with `postId` (the post was made and submitted
-- before), or `"draft"` with `postId` (made now, or made before and never submitted: the worker
-- submits it). Two calls at once for one job make one post: the second waits on the first's key
-- and answers its draft. A destination on another team's connection raises 23503, and nothing
-- is written.
create function public.post_from_job(user_id uuid, job_id uuid, destinations jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    job public.content_jobs;
    post_key text := 'job:' || post_from_job.job_id;
    made_post_id uuid;
begin
    select * into job from public.content_jobs as j where j.id = post_from_job.job_id;
    if not found
        or (job.team_id is null and job.user_id <> post_from_job.user_id)
        or (job.team_id is not null and app_private.team_role_of(job.team_id, post_from_job.user_id) is null) then
        return jsonb_build_object('status', 'not_found');
    end if;
    if job.team_id is null or job.state <> 'done' then
        return jsonb_build_object('status', 'invalid_job_state');
    end if;

    insert into public.scheduled_posts (team_id, client_post_id, body, media, created_by)
    values (job.team_id, post_key, coalesce(job.result ->> 'text', ''),
        coalesce((select jsonb_agg(jsonb_build_object('assetId', a.id) order by a.step_index, a.created_at, a.id)
                  from public.assets as a where a.job_id = job.id), '[]'),
        post_from_job.user_id)
    on conflict (team_id, client_post_id) do nothing
    returning id into made_post_id;
    if made_post_id is null then
        select p.id into made_post_id
        from public.scheduled_posts as p where p.team_id = job.team_id and p.client_post_id = post_key;
        return jsonb_build_object('status',
            case when app_private.post_is_editable(made_post_id) then 'draft' else 'existing' end,
            'postId', made_post_id);
    end if;

    insert into public.post_destinations (post_id, team_id, connection_id, options)
    select made_post_id, job.team_id, (d.value ->> 'connectionId')::uuid, coalesce(d.value -> 'options', '{}')
    from jsonb_array_elements(post_from_job.destinations) with ordinality as d
    order by d.ordinality;
    return jsonb_build_object('status', 'draft', 'postId', made_post_id);
end
$$;
revoke execute on function public.post_from_job(uuid, uuid, jsonb) from public, anon, authenticated;
grant execute on function public.post_from_job(uuid, uuid, jsonb) to service_role;
