// Invitations: an owner or admin invites by email (the worker sends Auth's email). Someone with
// an account finds the invitation once signed in and answers it; someone without one arrives
// signed in by the invite email's link, chooses a name and password, and joins.
import type { User } from '@supabase/supabase-js';
import { byId, element, notify, onSubmit } from './dom';
import { emailLinkType, rows, supabase } from './supabase';
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

/** What Auth's invite keeps in a new account's metadata (`functions/src/teams/email.rs`). */
interface InvitedMetadata {
  team_invitation_token?: string;
  team_id?: string;
}

/** Wires the welcome form of an invited person; `onJoined` runs with the team they joined. */
export function setUpWelcome(user: () => User, onJoined: (teamId: string) => void): void {
  onSubmit('welcome-form', async () => {
    const me = user();
    const display_name = byId<HTMLInputElement>('welcome-name').value.trim();
    const { error } = await supabase.auth.updateUser({ password: byId<HTMLInputElement>('welcome-password').value });
    if (error) throw new Error(error.message);
    await rows(supabase.from('profiles').update({ display_name }).eq('id', me.id).select('id'));
    const { team_invitation_token: token } = me.user_metadata as InvitedMetadata;
    const teamId = await rows(supabase.rpc('accept_team_invitation', { token: token! }));
    byId('welcome').hidden = true;
    onJoined(teamId);
  });
}

/** Shows the welcome form if the page was opened from an invite email's link and its
 * invitation still waits; resolves to whether it did. */
export async function welcomesInvited(user: User): Promise<boolean> {
  const { team_invitation_token: token, team_id: teamId } = user.user_metadata as InvitedMetadata;
  if (emailLinkType !== 'invite' || !token) return false;
  const invitation = (await rows(supabase.rpc('my_team_invitations'))).find((each) => each.team_id === teamId);
  if (!invitation) return false;
  byId('welcome-team').textContent = `${invitation.invited_by_name} invites you to ${invitation.team_name} as ${invitation.role}. Choose a name and a password to join.`;
  byId('welcome').hidden = false;
  return true;
}
