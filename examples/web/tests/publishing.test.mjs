// Social accounts connected through the OAuth round trip, then a post scheduled to two of them:
// the platform's rule errors beside their field, the destinations turning published live, and a
// member's post approved by an admin.
import { test } from 'node:test';
import { SERVICE_ROLE_KEY, data, newClient } from '../../../tests/sdk/js/helpers.mjs';
import { assertCleanConsole, openApp, person, runPublishSweep, screenshot, signIn, signedInOwner } from './browser.mjs';

const admin = newClient(SERVICE_ROLE_KEY);

/** Connects an account through the platform's (fake) consent page and back to the app. */
async function connect(page, platform) {
  await page.getByLabel('Platform').selectOption(platform);
  await page.getByRole('button', { name: 'Connect account' }).click();
  await page.getByText(`Connected your ${platform} account.`).waitFor();
  await page.locator(`#accounts li[data-platform="${platform}"] .status[data-status="active"]`).waitFor();
}

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
  await page.getByRole('button', { name: 'Schedule' }).click();
  await page.locator('#post-body-error', { hasText: 'x allows at most 280 characters (281 given)' }).waitFor();
  await screenshot(page, 'rule-violation');

  // Later than now: a due post would be published at once (pg_net), before it could be watched.
  const text = `Hello from the browser test ${Date.now()}`;
  const when = wallTimeInUtc(10);
  await page.getByLabel('Post text').fill(text);
  await page.getByLabel('When').fill(when);
  await page.getByRole('button', { name: 'Schedule' }).click();
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
  await page.getByRole('button', { name: 'Schedule' }).click();
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
