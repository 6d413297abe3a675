// The team's members: a direct message to any of them, and for owners and admins each
// non-owner's role (`update_team_member_role`). The database decides who may change a role; a
// refusal is shown and the list read again, so the page shows what the server holds.
import { byId, element } from './dom';
import { rows, supabase } from './supabase';
import { teamMembers, type Member } from './teams';

type Role = 'admin' | 'member';

let shown: { teamId: string; me: string } | undefined;

/** Wires the list; `onMessage` opens the direct conversation with a member. */
export function setUpMembers(onMessage: (userId: string) => void): void {
  const list = byId('members');
  list.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-message]');
    if (button) onMessage(button.dataset.message!);
  });
  list.addEventListener('change', (event) => {
    const select = (event.target as HTMLElement).closest<HTMLSelectElement>('select[data-member]');
    if (select) void changeRole(select.dataset.member!, select.value as Role);
  });
}

/** Lists the team's members; the invite form only for owners and admins. Resolves to whether
 * the user is one of those. */
export async function showMembers(teamId: string, me: string): Promise<boolean> {
  shown = { teamId, me };
  const members = await teamMembers(teamId);
  const myRole = members.find((member) => member.userId === me)?.role;
  const manages = myRole === 'owner' || myRole === 'admin';
  byId('members').replaceChildren(...members.map((member) => memberItem(member, me, manages)));
  byId('invite-form').hidden = byId('team-approval-toggle').hidden = !manages;
  byId('team-members').hidden = false;
  return manages;
}

function memberItem(member: Member, me: string, manages: boolean): HTMLElement {
  const item = element('li', { 'data-user': member.userId });
  if (member.avatarUrl) item.append(element('img', { src: member.avatarUrl, alt: `${member.name}'s avatar`, class: 'avatar' }));
  item.append(element('span', {}, `${member.name} (${member.role})`));
  if (member.userId === me) return item;
  // The owner's role changes only by transferring ownership, never here.
  if (manages && member.role !== 'owner') {
    const role = element('select', { 'data-member': member.userId, 'aria-label': `Role of ${member.name}` }) as HTMLSelectElement;
    role.append(new Option('Member', 'member', false, member.role === 'member'), new Option('Admin', 'admin', false, member.role === 'admin'));
    item.append(role);
  }
  item.append(element('button', { type: 'button', class: 'secondary', 'data-message': member.userId, 'aria-label': `Message ${member.name}` }, 'Message'));
  return item;
}

async function changeRole(userId: string, role: Role): Promise<void> {
  if (!shown) return;
  const { teamId, me } = shown;
  const error = byId('members-error');
  error.textContent = '';
  try {
    await rows(supabase.rpc('update_team_member_role', { team_id: teamId, user_id: userId, role }));
  } catch (refusal) {
    error.textContent = `Role not changed: ${refusal instanceof Error ? refusal.message : String(refusal)}`;
  }
  await showMembers(teamId, me);
}
