-- Campaign content: personas, operators, campaigns, content drafts.
begin;
select plan(55);

select tests.create_user('owner@test.local') as owner \gset
select tests.create_user('admin@test.local') as admin \gset
select tests.create_user('member@test.local') as member \gset
select tests.create_user('other@test.local') as other \gset
select tests.create_team(:'owner', 'Alpha') as team \gset
select tests.add_team_member(:'team', :'admin', 'admin');
select tests.add_team_member(:'team', :'member');
select tests.create_team(:'other', 'Beta') as other_team \gset

-- A member creates one row of each, as a client would.
select tests.authenticate_as(:'member');
insert into public.personas (team_id, name, demographics, vulnerabilities, rst_bas, rst_fffs, created_by)
values (:'team', 'Skeptical Sam', '{"age": "35-44"}', '{fomo,authority}', 'High', 'Low', :'other')
returning id as persona \gset
insert into public.operators (team_id, name, persona_id) values (:'team', 'Night shift', :'persona')
returning id as operator \gset
insert into public.campaigns (team_id, name, brand_name, tone) values (:'team', 'Launch', 'Acme', 'playful')
returning id as campaign \gset
insert into public.content_drafts (team_id, campaign_id, persona_id, title, platform_contents)
values (:'team', :'campaign', :'persona', 'Teaser', $json$
    {"instagram": {"content": "Soon.", "hashtags": ["#acme", "launch"], "media_type": "image",
                   "image_source": "library", "library_asset_id": "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"},
     "x": {"content": "Soon.", "meme_text": null, "video_idea": "countdown"}}
$json$)
returning id as draft \gset
select tests.clear_authentication();

select is(
    (select (created_by, created_at, updated_at, rst_bas, rst_bis)::text from public.personas where id = :'persona'),
    format('(%s,"%s","%s",High,"Not Assessed")', :'member', now(), now()),
    'created_by is the caller whatever the client sends; timestamps and RST defaults are set');

select tests.check_team_scoped('public.personas', format('id = %L', :'persona'), :'member', :'other', 'name');
select tests.check_team_scoped('public.operators', format('id = %L', :'operator'), :'member', :'other', 'name');
select tests.check_team_scoped('public.campaigns', format('id = %L', :'campaign'), :'member', :'other', 'name');
select tests.check_team_scoped('public.content_drafts', format('id = %L', :'draft'), :'member', :'other', 'title');

-- Deleting is for owners and admins.
select tests.authenticate_as(:'member');
select is(
    tests.rows_affected(format('delete from public.content_drafts where id = %L', :'draft'))
    + tests.rows_affected(format('delete from public.campaigns where id = %L', :'campaign'))
    + tests.rows_affected(format('delete from public.operators where id = %L', :'operator'))
    + tests.rows_affected(format('delete from public.personas where id = %L', :'persona')),
    0, 'a plain member cannot delete personas, operators, campaigns or drafts');

-- Stamps and team cannot be rewritten.
select throws_ok(
    format('update public.personas set created_by = %L where id = %L', :'admin', :'persona'), '42501', null,
    'created_by cannot be changed');
select throws_ok(
    format('update public.campaigns set created_at = %L where id = %L', '2000-01-01', :'campaign'), '42501', null,
    'created_at cannot be changed');
select throws_ok(
    format('update public.content_drafts set team_id = %L where id = %L', :'other_team', :'draft'), '42501', null,
    'a row cannot move to another team');
select tests.authenticate_as_service_role();
update public.operators set description = 'Evenings', updated_at = '2000-01-01', created_by = null where id = :'operator';
select is(
    (select (updated_at, created_by)::text from public.operators where id = :'operator'),
    format('("%s",%s)', now(), :'member'), 'updated_at and created_by are kept by the database even for the service role');

-- References stay inside the team.
select tests.clear_authentication();
insert into public.campaigns (team_id, name) values (:'other_team', 'Their campaign') returning id as other_campaign \gset
select tests.authenticate_as(:'member');
select throws_ok(
    format('insert into public.content_drafts (team_id, campaign_id) values (%L, %L)', :'team', :'other_campaign'),
    '23503', null, 'a draft cannot point at another team''s campaign');

-- Validation.
select throws_ok(
    format('update public.personas set rst_bis = %L where id = %L', 'Extreme', :'persona'), '22P02', null,
    'RST levels are Not Assessed, Low, Medium or High');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L', '[]', :'draft'), '23514',
    'platform_contents must be an object keyed by platform', 'platform_contents must be an object');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L', '{"myspace": {}}', :'draft'), '23514',
    'platform_contents: unknown platform "myspace"', 'unknown platforms are rejected');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L', '{"x": "hello"}', :'draft'), '23514',
    'platform_contents.x: must be an object', 'a platform entry must be an object');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"instagram": {"hashtags": ["two words"]}}', :'draft'), '23514',
    'platform_contents.instagram.hashtags: must be an array of hashtags without spaces', 'malformed hashtags are rejected');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"tiktok": {"content": 42}}', :'draft'), '23514',
    'platform_contents.tiktok.content: must be a string', 'non-string content is rejected');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"facebook": {"media_type": "hologram"}}', :'draft'), '23514',
    'platform_contents.facebook.media_type: must be one of text, image, video, carousel', 'unknown media types are rejected');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"linkedin": {"image_source": "stolen"}}', :'draft'), '23514',
    'platform_contents.linkedin.image_source: must be one of ai_generated, library, upload', 'unknown image sources are rejected');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"youtube": {"library_asset_id": "42"}}', :'draft'), '23514',
    'platform_contents.youtube.library_asset_id: must be a uuid string', 'library asset ids must be uuids');
select throws_ok(
    format('update public.content_drafts set platform_contents = %L where id = %L',
           '{"threads": {"contnet": "typo"}}', :'draft'), '23514',
    'platform_contents.threads.contnet: is not a known field', 'unknown fields are rejected');

-- Campaign soft delete follows the delete rule.
select throws_ok(
    format('update public.campaigns set deleted_at = now() where id = %L', :'campaign'), '42501',
    'only the team''s owner or an admin can delete or restore a campaign', 'a plain member cannot soft-delete a campaign');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('update public.campaigns set deleted_at = now() where id = %L', :'campaign')), 1,
    'an admin can soft-delete a campaign');
select tests.authenticate_as(:'member');
select throws_ok(
    format('update public.campaigns set deleted_at = null where id = %L', :'campaign'), '42501',
    'only the team''s owner or an admin can delete or restore a campaign', 'a plain member cannot restore it');
select is(tests.rows_affected(format('update public.campaigns set name = %L where id = %L', 'Launch v2', :'campaign')), 1,
    'a plain member can still edit other fields');

-- Owners and admins delete; references follow.
select tests.authenticate_as(:'owner');
select is(tests.rows_affected(format('delete from public.personas where id = %L', :'persona')), 1,
    'the owner can delete a persona');
select is(
    (select (team_id, persona_id)::text from public.content_drafts where id = :'draft'), format('(%s,)', :'team'),
    'deleting a persona clears it from drafts and operators, keeping their team');
select tests.authenticate_as(:'admin');
select is(tests.rows_affected(format('delete from public.campaigns where id = %L', :'campaign')), 1,
    'an admin can delete a campaign');
select is((select count(*)::int from public.content_drafts where campaign_id = :'campaign'), 0,
    'deleting a campaign deletes its drafts');

-- A removed member loses access at once.
select public.remove_team_member(:'team', :'member');
select tests.authenticate_as(:'member');
select is((select count(*)::int from public.operators), 0, 'a removed member sees their former team''s rows no more');
select is(
    tests.rows_affected(format('insert into public.campaigns (team_id, name) values (%L, %L)', :'team', 'Sneaky')), 0,
    'and cannot add rows to it');

select * from finish();
rollback;
