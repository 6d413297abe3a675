// A team grows through the app: the owner invites by email, the invited person joins.
import { test } from 'node:test';
import { data } from '../../../tests/sdk/js/helpers.mjs';
import { assertCleanConsole, openApp, person, screenshot, signIn } from './browser.mjs';

test('an owner invites a teammate by email, who finds the invitation in the app and joins', async () => {
  const [olga, ivy] = await Promise.all([person('team-owner', 'Olga'), person('team-invitee', 'Ivy')]);
  const team = await data(olga.client.rpc('create_team', { name: `Olga's studio ${Date.now()}` }));

  const ownerPage = await openApp();
  await signIn(ownerPage, olga);
  await ownerPage.getByLabel('Invite by email').fill(ivy.email);
  await ownerPage.getByLabel('Role').selectOption('admin');
  await ownerPage.getByRole('button', { name: 'Invite' }).click();
  await ownerPage.getByText(`Invitation sent to ${ivy.email}.`).waitFor();

  const page = await openApp();
  await signIn(page, ivy);
  await page.getByText(`Olga invites you to ${team.name} as admin`).waitFor();
  await page.getByRole('button', { name: `Join ${team.name}` }).click();
  await page.locator('#team-select option:checked', { hasText: team.name }).waitFor({ state: 'attached' });
  await page.locator('#members', { hasText: 'Olga (owner)' }).waitFor();
  await page.locator('#members', { hasText: 'Ivy (admin)' }).waitFor();
  await page.locator('#invitations').waitFor({ state: 'hidden' });

  await screenshot(page, 'joined-team');
  for (const each of [ownerPage, page]) assertCleanConsole(each);
});
