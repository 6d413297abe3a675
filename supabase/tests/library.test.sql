-- The content library: asset rows, the `library` Storage bucket and its object policies,
-- and the cleanup queue for objects of deleted assets.
begin;
select plan(35);

select tests.create_user('owner@test.local') as owner \gset
select tests.create_user('admin@test.local') as admin \gset
select tests.create_user('member@test.local') as member \gset
select tests.create_user('other@test.local') as other \gset
select tests.create_team(:'owner', 'Alpha') as team \gset
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');
select tests.create_team(:'other', 'Beta') as other_team \gset

select is(
    (select (public, file_size_limit)::text from storage.buckets where id = 'library'), '(f,52428800)',
    'the library bucket is private with a 50 MiB file limit');
select ok(
    (select allowed_mime_types @> '{image/png,image/jpeg,image/webp,video/mp4}'
        and not allowed_mime_types && '{image/svg+xml,text/html}' from storage.buckets where id = 'library'),
    'the library bucket takes images and videos only (no SVG or HTML that could run script)');

-- Objects as Storage would store them after uploads by each team.
insert into storage.objects (bucket_id, name, owner_id) values
    ('library', :'team' || '/logo.png', :'member'),
    ('library', :'team' || '/logo-copy.png', :'member'),
    ('library', :'other_team' || '/secret.png', :'other');

select tests.authenticate_as(:'member');
insert into public.content_library_assets (team_id, object_path, title, mime_type, size_bytes, tags)
values (:'team', :'team' || '/logo.png', 'Logo', 'image/png', 1234, '{brand}')
returning id as asset \gset
select tests.clear_authentication();

select tests.check_team_scoped('public.content_library_assets', format('id = %L', :'asset'), :'member', :'other',
    'title', copy_overrides => jsonb_build_object('object_path', :'team' || '/logo-copy.png'));

select tests.authenticate_as(:'member');
select throws_ok(
    format('insert into public.content_library_assets (team_id, object_path, mime_type) values (%L, %L, %L)',
           :'team', :'other_team' || '/secret.png', 'image/png'),
    '23514', null, 'an asset''s object must be in its own team''s folder');
select throws_ok(
    format('update public.content_library_assets set object_path = %L where id = %L', :'team' || '/other.png', :'asset'),
    '42501', null, 'an asset''s object path cannot be changed');
select is(tests.rows_affected(format('delete from public.content_library_assets where id = %L', :'asset')), 0,
    'a plain member cannot delete an asset');

-- Storage objects.
select is(
    (select array_agg(name order by name) from storage.objects where bucket_id = 'library'),
    array[:'team' || '/logo-copy.png', :'team' || '/logo.png'],
    'a member sees their team''s library objects only');
select is(
    tests.rows_affected(format('select from storage.objects where name = %L', :'other_team' || '/secret.png')), 0,
    'a member cannot read another team''s objects');
select is(
    tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'library', :'team' || '/new.mp4')),
    1, 'a member can upload into their team''s folder');
select is(
    tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'library', :'other_team' || '/planted.png')),
    0, 'a member cannot upload into another team''s folder');
select is(
    tests.rows_affected(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'library', 'loose.png')),
    0, 'a member cannot upload outside any team folder');
select is(
    tests.rows_affected(format('update storage.objects set name = %L where name = %L', :'other_team' || '/moved.png', :'team' || '/new.mp4')),
    0, 'a member cannot move an object into another team''s folder');
select is(
    tests.rows_affected(format('update storage.objects set metadata = %L where name = %L', '{"size": 1}', :'team' || '/new.mp4')),
    1, 'a member can replace their team''s objects');
select is(tests.rows_affected(format('delete from storage.objects where name = %L', :'team' || '/new.mp4')), 0,
    'a plain member cannot delete library objects');

select tests.authenticate_as(:'other');
select is(tests.rows_affected(format('select from storage.objects where name = %L', :'team' || '/logo.png')), 0,
    'an outsider cannot read the team''s objects');
select is(tests.rows_affected(format('update storage.objects set metadata = %L where name = %L', '{}', :'team' || '/logo.png')), 0,
    'an outsider cannot overwrite the team''s objects');
select is(tests.rows_affected(format('delete from storage.objects where name = %L', :'team' || '/logo.png')), 0,
    'an outsider cannot delete the team''s objects');
select tests.authenticate_as_anon();
select is(tests.rows_affected('select from storage.objects'), 0, 'anon sees no objects');

select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('delete from storage.objects where name = %L', :'team' || '/new.mp4')), 1,
    'an admin can delete library objects');

-- Deleting assets queues their objects for removal through the Storage API.
select is(tests.rows_affected(format('delete from public.content_library_assets where id = %L', :'asset')), 1,
    'an admin can delete an asset');
select tests.clear_authentication();
select is(
    (select array_agg(format('%s:%s', bucket_id, object_name)) from app_private.storage_cleanup_queue),
    array['library:' || :'team' || '/logo.png'], 'the deleted asset''s object is queued for removal');

select tests.authenticate_as(:'member');
select throws_ok('select public.claim_storage_cleanup()', '42501', null, 'clients cannot claim the cleanup queue');
select throws_ok('select public.finish_storage_cleanup(array[1::bigint])', '42501', null,
    'clients cannot finish cleanup entries');
select tests.authenticate_as_service_role();
select public.claim_storage_cleanup(10) as claimed \gset
select is(
    (select array_agg(format('%s:%s', e ->> 'bucket', e ->> 'name')) from jsonb_array_elements(:'claimed') as e),
    array['library:' || :'team' || '/logo.png'], 'the service role claims queued objects');
select is(public.claim_storage_cleanup(10), '[]'::jsonb, 'a claimed object is not handed out again');
select tests.clear_authentication();
update app_private.storage_cleanup_queue set claimed_until = now() - interval '1 second';
select tests.authenticate_as_service_role();
select is(jsonb_array_length(public.claim_storage_cleanup(10)), 1,
    'an entry whose removal never finished comes back once its lease ran out');
select is(public.finish_storage_cleanup(array[((:'claimed')::jsonb -> 0 ->> 'id')::bigint]), 1,
    'finishing removes the entry');
select is(public.finish_storage_cleanup(array[((:'claimed')::jsonb -> 0 ->> 'id')::bigint]), 0,
    'finishing again changes nothing');
select tests.clear_authentication();
insert into app_private.storage_cleanup_queue (bucket_id, object_name, attempts) values ('library', 'stuck', 20);
select tests.authenticate_as_service_role();
select is(public.claim_storage_cleanup(10), '[]'::jsonb, 'an entry claimed 20 times waits for an operator');

select * from finish();
rollback;
