// The profile, the user's teams and the current team's AI credits.
import type { User } from '@supabase/supabase-js';
import { byId, fillSelect, notify, onSubmit } from './dom';
import { rows, supabase } from './supabase';

const SELECTED_TEAM = 'pixa.team';

export interface Member {
  userId: string;
  role: string;
  name: string;
}

/** The signed-in user's profile form; resolves to their time zone. */
export async function loadProfile(user: User): Promise<string> {
  const { data: profile, error } = await supabase.from('profiles').select('display_name, timezone').eq('id', user.id).single();
  if (error) throw new Error(error.message);
  byId<HTMLInputElement>('profile-name').value = profile.display_name ?? '';
  const zones = Intl.supportedValuesOf('timeZone');
  if (!zones.includes(profile.timezone)) zones.unshift(profile.timezone);
  fillSelect(byId('profile-timezone'), zones.map((zone) => ({ value: zone, label: zone })), profile.timezone);
  return profile.timezone;
}

export function setUpProfile(user: () => User, onTimezone: (zone: string) => void): void {
  onSubmit('profile-form', async () => {
    const timezone = byId<HTMLSelectElement>('profile-timezone').value;
    const display_name = byId<HTMLInputElement>('profile-name').value.trim() || null;
    await rows(supabase.from('profiles').update({ display_name, timezone }).eq('id', user().id).select());
    onTimezone(timezone);
    notify('Profile saved.');
  });
}

/** Fills the team picker and calls `onTeam` with the team to show (none when the user has none). */
export async function loadTeams(onTeam: (teamId: string | null) => void, select?: string): Promise<void> {
  const teams = await rows(supabase.from('teams').select('id, name').order('created_at'));
  const wanted = select ?? localStorage.getItem(SELECTED_TEAM);
  const teamId = teams.find((team) => team.id === wanted)?.id ?? teams[0]?.id ?? null;
  fillSelect(byId('team-select'), teams.map((team) => ({ value: team.id, label: team.name })), teamId ?? undefined);
  if (teamId) localStorage.setItem(SELECTED_TEAM, teamId);
  onTeam(teamId);
}

export function setUpTeams(onTeam: (teamId: string | null) => void): void {
  byId<HTMLSelectElement>('team-select').addEventListener('change', (event) =>
    void loadTeams(onTeam, (event.target as HTMLSelectElement).value),
  );
  onSubmit('team-form', async (form) => {
    const name = byId<HTMLInputElement>('team-name').value.trim();
    const team = await rows(supabase.rpc('create_team', { name }));
    form.reset();
    await loadTeams(onTeam, team.id);
  });
}

export async function teamMembers(teamId: string): Promise<Member[]> {
  const members = await rows(
    supabase.from('team_members').select('user_id, role, profiles(display_name)').eq('team_id', teamId),
  );
  return members.map((member) => ({
    userId: member.user_id,
    role: member.role,
    name: member.profiles?.display_name ?? `member ${member.user_id.slice(0, 4)}`,
  }));
}

/** This month's AI credits of the team, as the ledger has them. */
export async function showCredits(teamId: string): Promise<void> {
  const [ledger] = await rows(
    supabase.from('ai_credit_ledger').select('allowance, used, reserved').eq('subject_id', teamId).order('period', { ascending: false }).limit(1),
  );
  byId('credits').textContent = ledger
    ? `AI credits this month: ${ledger.used} used of ${ledger.allowance}${ledger.reserved ? ` (${ledger.reserved} reserved)` : ''}.`
    : 'AI credits this month: none used yet.';
}
