// Team members and invitations: an owner or admin invites by email (the worker sends Auth's
// email); the invited person finds the invitation once signed in and answers it.
import { byId, element, notify, onSubmit } from './dom';
import { rows, supabase } from './supabase';
import { teamMembers } from './teams';
import { call } from './worker';

/** Wires the invite form; `onJoined` runs with the team an accepted invitation joined. */
export function setUpInvitations(team: () => string | null, onJoined: (teamId: string) => void): void {
  onSubmit('invite-form', async (form) => {
    const teamId = team();
    if (!teamId) return;
    const email = byId<HTMLInputElement>('invite-email').value.trim();
    const role = byId<HTMLSelectElement>('invite-role').value;
    await call(`/v1/teams/${teamId}/invitations`, { method: 'POST', body: { email, role, redirectTo: `${location.origin}/` } });
    form.reset();
    notify(`Invitation sent to ${email}.`);
  });
  byId('invitation-list').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-invitation]');
    if (!button) return;
    const accept = button.dataset.answer === 'accept';
    void answer(button.dataset.invitation!, accept, onJoined).catch((error) => notify(String(error)));
  });
}

/** Lists the team's members; the invite form only for owners and admins. Resolves to whether
 * the user is one of those. */
export async function showMembers(teamId: string, me: string): Promise<boolean> {
  const members = await teamMembers(teamId);
  byId('members').replaceChildren(...members.map((member) => element('li', {}, `${member.name} (${member.role})`)));
  const myRole = members.find((member) => member.userId === me)?.role;
  const manages = myRole === 'owner' || myRole === 'admin';
  byId('invite-form').hidden = byId('team-approval-toggle').hidden = !manages;
  byId('team-members').hidden = false;
  return manages;
}

/** The pending invitations to the signed-in user's (verified) address. */
export async function showInvitations(): Promise<void> {
  const invitations = await rows(supabase.rpc('my_team_invitations'));
  byId('invitations').hidden = invitations.length === 0;
  byId('invitation-list').replaceChildren(
    ...invitations.map((invitation) => {
      const what = `${invitation.invited_by_name} invites you to ${invitation.team_name} as ${invitation.role}`;
      return element(
        'li',
        {},
        element('span', {}, what),
        element('button', { type: 'button', 'data-invitation': invitation.invitation_id, 'data-answer': 'accept', 'aria-label': `Join ${invitation.team_name}` }, 'Join'),
        element('button', { type: 'button', class: 'secondary', 'data-invitation': invitation.invitation_id, 'data-answer': 'decline', 'aria-label': `Decline ${invitation.team_name}` }, 'Decline'),
      );
    }),
  );
}

async function answer(invitationId: string, accept: boolean, onJoined: (teamId: string) => void): Promise<void> {
  const teamId = await rows(supabase.rpc('respond_to_team_invitation', { invitation_id: invitationId, accept }));
  await showInvitations();
  if (accept) onJoined(teamId);
}
