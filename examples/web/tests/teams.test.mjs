// A team grows through the app: the owner invites by email, the invited person joins (with an
// account or without one yet); owners and admins change roles, a member cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_ROLE_KEY, data, lastMail, newClient, uniqueEmail } from '../../../tests/sdk/js/helpers.mjs';
import { assertCleanConsole, openApp, person, screenshot, signIn } from './browser.mjs';

const admin = newClient(SERVICE_ROLE_KEY);

test('an owner invites a teammate by email, who finds the invitation in the app and joins', async () => {
  const [olga, ivy] = await Promise.all([person('team-owner', 'Olga'), person('team-invitee', 'Ivy')]);
  const team = await data(olga.client.rpc('create_team', { name: `Olga's studio ${Date.now()}` }));

  const ownerPage = await openApp();
  await signIn(ownerPage, olga);
  await ownerPage.getByLabel('Invite by email').fill(ivy.email);
  await ownerPage.locator('#invite-role').selectOption('admin');
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

test('someone without an account follows the invitation mail, chooses a password and lands in the team', async () => {
  const olga = await person('invite-owner', 'Olga');
  const team = await data(olga.client.rpc('create_team', { name: `Olga's agency ${Date.now()}` }));
  const email = uniqueEmail('web-new-invitee');
  const ownerPage = await openApp();
  await signIn(ownerPage, olga);
  await ownerPage.getByLabel('Invite by email').fill(email);
  await ownerPage.getByRole('button', { name: 'Invite' }).click();
  await ownerPage.getByText(`Invitation sent to ${email}.`).waitFor();

  const page = await openApp();
  await page.goto((await lastMail(email)).link);
  await page.getByText(`Olga invites you to ${team.name} as member.`).waitFor();
  await page.getByLabel('Your name').fill('Nina');
  await page.getByLabel('Choose a password').fill('nina-chose-this');
  await page.getByRole('button', { name: 'Set password and join' }).click();
  await page.locator('#team-select option:checked', { hasText: team.name }).waitFor({ state: 'attached' });
  await page.locator('#members', { hasText: 'Nina (member)' }).waitFor();
  await screenshot(page, 'invited-without-account');

  // The password is the account's now.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, { email, password: 'nina-chose-this' });
  await page.locator('#team-select option:checked', { hasText: team.name }).waitFor({ state: 'attached' });
  for (const each of [ownerPage, page]) assertCleanConsole(each);
});

test('an owner promotes and demotes a member; a demoted admin is refused and sees why', async () => {
  const [olga, max, ivy] = await Promise.all([person('roles-owner', 'Olga'), person('roles-max', 'Max'), person('roles-ivy', 'Ivy')]);
  const team = await data(olga.client.rpc('create_team', { name: 'Roles team' }));
  for (const member of [max, ivy]) {
    await data(admin.from('team_members').insert({ team_id: team.id, user_id: member.id, role: 'member' }));
  }
  const [ownerPage, page] = [await openApp(), await openApp()];
  await signIn(ownerPage, olga);
  await signIn(page, max);
  // A plain member changes no one's role.
  await page.locator('#members', { hasText: 'Max (member)' }).waitFor();
  assert.equal(await page.getByLabel(/^Role of /).count(), 0);

  await ownerPage.getByLabel('Role of Max').selectOption('admin');
  await ownerPage.locator('#members', { hasText: 'Max (admin)' }).waitFor();
  await page.reload();
  await page.getByLabel('Role of Ivy').waitFor();

  // Demoted while his page still offers the control: the database refuses, the page says so
  // and shows the roles as they are.
  await ownerPage.getByLabel('Role of Max').selectOption('member');
  await ownerPage.locator('#members', { hasText: 'Max (member)' }).waitFor();
  await page.getByLabel('Role of Ivy').selectOption('admin');
  await page.getByRole('alert').filter({ hasText: "Role not changed: only the team's owner or an admin can change roles" }).waitFor();
  await page.locator('#members', { hasText: 'Max (member)' }).waitFor();
  await page.locator('#members', { hasText: 'Ivy (member)' }).waitFor();
  assert.equal(await page.getByLabel(/^Role of /).count(), 0);

  await screenshot(page, 'role-refused');
  assertCleanConsole(ownerPage);
  assertCleanConsole(page, ['status of 403 (Forbidden)']);
});
