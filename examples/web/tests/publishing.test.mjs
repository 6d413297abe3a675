// Social accounts connected through the OAuth round trip, then a post scheduled to two of them:
// the platform's rule errors beside their field, the destinations turning published live, and a
// member's post approved by an admin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_ROLE_KEY, data, newClient } from '../../../tests/sdk/js/helpers.mjs';
import { ONE_PIXEL_PNG, assertCleanConsole, connect, openApp, person, runPublishSweep, screenshot, signIn, signedInOwner } from './browser.mjs';

const admin = newClient(SERVICE_ROLE_KEY);

/** A wall time in UTC (the profile's default zone), to the second, `minutes` from now. */
function wallTimeInUtc(minutes = 0) {
  return new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 19);
}

/** Makes a scheduled post's destinations due now, as time passing would (e2e's `make_due`). */
async function makeDue(body) {
  const post = await data(admin.from('scheduled_posts').select('id').eq('body', body).single());
  await data(admin.from('post_destinations').update({ next_attempt_at: new Date().toISOString() }).eq('post_id', post.id).select());
}

test('connect two accounts, see a rule error by its field, and watch a post publish to both, on the calendar', async () => {
  const { page } = await signedInOwner('publisher', 'Publishers');

  await connect(page, 'x');
  await connect(page, 'linkedin');
  await screenshot(page, 'connections');

  const accounts = page.locator('#post-accounts');
  await accounts.getByLabel(/^x:/).check();
  await accounts.getByLabel(/^linkedin:/).check();
  await page.getByLabel('Post text').fill('a'.repeat(281));
  await page.getByLabel('When').fill(wallTimeInUtc());
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-body-error', { hasText: 'x allows at most 280 characters (281 given)' }).waitFor();
  await screenshot(page, 'rule-violation');

  // Later than now: a due post would be published at once (pg_net), before it could be watched.
  const text = `Hello from the browser test ${Date.now()}`;
  const when = wallTimeInUtc(10);
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('When').fill(when);
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-status[data-live="true"]').waitFor();
  await page.locator(`#calendar-grid td[data-date="${when.slice(0, 10)}"] li[title="${text}"]`).waitFor();
  await page.locator('#post-status .status[data-status="scheduled"]').nth(1).waitFor();

  await makeDue(text);
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="published"]').nth(1).waitFor();
  await screenshot(page, 'published');
  // The refused schedule is the one failed request the page made on purpose.
  assertCleanConsole(page, ['status of 400 (Bad Request)']);
});

test('an account the platform signed out is connected again with Reconnect', async () => {
  const { team, page } = await signedInOwner('reconnect', 'Reconnectors');
  await connect(page, 'x');
  // As the token refresh marks it when the platform refuses the refresh token.
  await data(admin.from('social_connections').update({ status: 'reauth_required' }).eq('team_id', team.id).select());
  await page.reload();

  await page.getByRole('button', { name: /^Reconnect x:/ }).click();
  await page.getByText('Connected your x account.').waitFor();
  await page.locator('#accounts li[data-platform="x"] .status[data-status="active"]').waitFor();
  await screenshot(page, 'reconnected');
  assertCleanConsole(page);
});

test("a member's post waits for an admin's approval, then publishes", async () => {
  const [otto, mia] = await Promise.all([person('approver', 'Otto'), person('author', 'Mia')]);
  const team = await data(otto.client.rpc('create_team', { name: 'Reviewed team' }));
  await data(admin.from('team_members').insert({ team_id: team.id, user_id: mia.id, role: 'member' }));

  const ownerPage = await openApp();
  await signIn(ownerPage, otto);
  await connect(ownerPage, 'x');
  await ownerPage.getByLabel("Members' posts wait for an owner's or admin's approval").check();
  await ownerPage.getByText("Members' posts now wait for approval.").waitFor();

  const page = await openApp();
  await signIn(page, mia);
  const text = `Mia's post ${Date.now()}`;
  await page.locator('#post-accounts').getByLabel(/^x:/).check();
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('When').fill(wallTimeInUtc());
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-status .status[data-status="pending_approval"]').waitFor();

  await ownerPage.reload();
  const waiting = ownerPage.locator('#review-list li', { hasText: text });
  await waiting.getByRole('button', { name: 'Approve' }).click();
  await ownerPage.getByText('Approved: it goes out at its time.').waitFor();
  // Approving a post that is due asks pg_net to publish it at once; the sweep covers either way.
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="published"]').waitFor();
  await screenshot(page, 'approved-and-published');
  for (const each of [ownerPage, page]) assertCleanConsole(each);
});

test('a time the clocks skip in the profile’s new time zone offers the instants it could mean; the chosen one is scheduled', async () => {
  const { page } = await signedInOwner('dst-picker', 'Night owls');
  await page.getByLabel('Time zone').selectOption('Europe/Berlin');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByText('Profile saved.').waitFor();
  await page.getByText('Times are in Europe/Berlin').waitFor();

  await connect(page, 'x');
  const text = `Right after the clocks jump ${Date.now()}`;
  await page.locator('#post-accounts').getByLabel(/^x:/).check();
  await page.getByLabel('Post text').fill(text);
  // Berlin's clocks jump from 02:00 to 03:00 that night: 02:30 never happens.
  await page.getByLabel('When').fill('2027-03-28T02:30:00');
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-time-error', { hasText: 'That time does not exist here' }).waitFor();
  await screenshot(page, 'dst-candidates');
  await page.getByRole('button', { name: 'Schedule at 2027-03-28 03:30 (UTC+02:00)' }).click();
  await page.locator('#post-status .status[data-status="scheduled"]').waitFor();

  const post = await data(admin.from('scheduled_posts').select('scheduled_at, timezone').eq('body', text).single());
  assert.equal(new Date(post.scheduled_at).toISOString(), '2027-03-28T01:30:00.000Z');
  assert.equal(post.timezone, 'Europe/Berlin');
  assertCleanConsole(page, ['status of 400 (Bad Request)']);
});

test('platform options and media: rules shown first, refusals beside each field, a pin with its image published, TikTok as its creator may post', async () => {
  const { page } = await signedInOwner('options-media', 'Pinners');
  for (const platform of ['pinterest', 'youtube', 'tiktok']) await connect(page, platform);
  const accounts = page.locator('#post-accounts');
  for (const platform of ['pinterest', 'youtube', 'tiktok']) await accounts.getByLabel(new RegExp(`^${platform}:`)).check();
  await page.locator('#post-media-rules', { hasText: 'pinterest: 1 image, required (JPEG, PNG; 20 MB)' }).waitFor();
  await page.locator('#post-media-rules', { hasText: 'youtube: 1 video, required (MP4, MOV)' }).waitFor();
  const [pinterest, youtube, tiktok] = ['pinterest', 'youtube', 'tiktok'].map((platform) =>
    page.locator('#post-options fieldset', { hasText: `${platform}:` }),
  );
  // The privacy levels TikTok gives this creator (a public account: no "Followers").
  const privacy = tiktok.getByLabel('Who can watch');
  await privacy.locator('option', { hasText: 'Only me' }).waitFor({ state: 'attached' });
  assert.deepEqual(await privacy.locator('option').allTextContents(), ['Choose…', 'Everyone', 'Friends', 'Only me']);

  const text = `A pin from the browser test ${Date.now()}`;
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('When').fill(wallTimeInUtc(10));
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await pinterest.getByRole('alert').filter({ hasText: 'is required: the board to pin to' }).waitFor();
  await youtube.getByRole('alert').filter({ hasText: 'is required: up to 100 characters, without < or >' }).waitFor();
  await youtube.getByRole('alert').filter({ hasText: 'must be one of public, unlisted, private' }).waitFor();
  await tiktok.getByRole('alert').filter({ hasText: 'must be one of PUBLIC_TO_EVERYONE' }).waitFor();
  await page.locator('#post-media-error', { hasText: 'pinterest posts need a media file' }).waitFor();
  await screenshot(page, 'options-and-media-refused');

  // The refused post was discarded; the next goes to Pinterest alone, with its board and image.
  await accounts.getByLabel(/^youtube:/).uncheck();
  await accounts.getByLabel(/^tiktok:/).uncheck();
  await pinterest.getByLabel('Board id').fill('board-7');
  await page.getByLabel('Pictures or a video').setInputFiles({ name: 'pin.png', mimeType: 'image/png', buffer: ONE_PIXEL_PNG });
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-status .status[data-status="scheduled"]').waitFor();
  const post = await data(admin.from('scheduled_posts').select('id, media').eq('body', text).single());
  assert.equal(post.media.length, 1);
  assert.deepEqual(await destinationOptions(post.id), [{ boardId: 'board-7' }]);
  await makeDue(text);
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="published"]').waitFor();
  await screenshot(page, 'pin-published');

  // TikTok: the chosen privacy level, and the duets its creator turned off stay off.
  const video = `A video for friends ${Date.now()}`;
  await accounts.getByLabel(/^pinterest:/).uncheck();
  await accounts.getByLabel(/^tiktok:/).check();
  await tiktok.getByLabel('Who can watch').selectOption({ label: 'Friends' });
  await page.getByLabel('Post text').fill(video);
  await page.getByLabel('Pictures or a video').setInputFiles({ name: 'clip.mp4', mimeType: 'video/mp4', buffer: Buffer.from('not really a video') });
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-status li', { hasText: 'tiktok:' }).locator('.status[data-status="scheduled"]').waitFor();
  const tiktokPost = await data(admin.from('scheduled_posts').select('id').eq('body', video).single());
  assert.deepEqual(await destinationOptions(tiktokPost.id), [{ privacyLevel: 'MUTUAL_FOLLOW_FRIENDS', disableDuet: true }]);
  assertCleanConsole(page, ['status of 400 (Bad Request)']);
});

async function destinationOptions(postId) {
  const destinations = await data(admin.from('post_destinations').select('options').eq('post_id', postId));
  return destinations.map((destination) => destination.options);
}

test('a destination the platform refused is retried from the page and publishes', async () => {
  const { page } = await signedInOwner('retry', 'Retriers');
  await connect(page, 'x');
  // `[publish:reject-once]`: the X fake refuses the first attempt of this text (403), later ones pass.
  const text = `Refused once [publish:reject-once] ${Date.now()}`;
  await page.locator('#post-accounts').getByLabel(/^x:/).check();
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('When').fill(wallTimeInUtc(10));
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.locator('#post-status[data-live="true"] .status[data-status="scheduled"]').waitFor();

  await makeDue(text);
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="failed"]').waitFor();
  await screenshot(page, 'destination-failed');
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.locator('#post-status .status[data-status="failed"]').waitFor({ state: 'detached' });
  // Retrying asks pg_net to publish at once; the sweep covers either way.
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="published"]').waitFor();
  assertCleanConsole(page);
});
