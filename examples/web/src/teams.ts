// The profile (name, time zone, avatar), the user's teams and the current team's AI credits.
import type { User } from '@supabase/supabase-js';
import { byId, fillSelect, notify, onSubmit } from './dom';
import { rows, supabase } from './supabase';

const SELECTED_TEAM = 'pixa.team';

export interface Member {
  userId: string;
  role: string;
  name: string;
  avatarUrl: string | null;
}

/** The signed-in user's profile form; resolves to their time zone. */
export async function loadProfile(user: User): Promise<string> {
  const { data: profile, error } = await supabase.from('profiles').select('display_name, timezone, avatar_url').eq('id', user.id).single();
  if (error) throw new Error(error.message);
  byId<HTMLInputElement>('profile-name').value = profile.display_name ?? '';
  showAvatar(profile.avatar_url);
  const zones = Intl.supportedValuesOf('timeZone');
  if (!zones.includes(profile.timezone)) zones.unshift(profile.timezone);
  fillSelect(byId('profile-timezone'), zones.map((zone) => ({ value: zone, label: zone })), profile.timezone);
  return profile.timezone;
}

/** Wires the profile; `onTimezone` runs with the zone saved, `onAvatar` after a new avatar. */
export function setUpProfile(user: () => User, onTimezone: (zone: string) => void, onAvatar: () => void): void {
  byId<HTMLInputElement>('profile-avatar').addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    void uploadAvatar(user().id, file)
      .then((saved) => saved && onAvatar())
      .finally(() => (input.value = ''));
  });
  onSubmit('profile-form', async () => {
    const timezone = byId<HTMLSelectElement>('profile-timezone').value;
    const display_name = byId<HTMLInputElement>('profile-name').value.trim() || null;
    await rows(supabase.from('profiles').update({ display_name, timezone }).eq('id', user().id).select());
    onTimezone(timezone);
    notify('Profile saved.');
  });
}

/** Puts the picture in the user's folder of the public `avatars` bucket (its policies let only
 * them write there; the bucket takes small images only) and links it from the profile;
 * resolves to whether it was saved. */
async function uploadAvatar(userId: string, file: File): Promise<boolean> {
  const error = byId('profile-avatar-error');
  error.textContent = '';
  const path = `${userId}/avatar`;
  const bucket = supabase.storage.from('avatars');
  const uploaded = await bucket.upload(path, file, { contentType: file.type, upsert: true });
  if (uploaded.error) {
    error.textContent = `Avatar not saved: ${uploaded.error.message}`;
    return false;
  }
  // The same address for every new picture: the query makes browsers fetch the new one.
  const avatar_url = `${bucket.getPublicUrl(path).data.publicUrl}?v=${Date.now()}`;
  await rows(supabase.from('profiles').update({ avatar_url }).eq('id', userId).select('id'));
  showAvatar(avatar_url);
  notify('Avatar saved.');
  return true;
}

function showAvatar(url: string | null): void {
  const image = byId<HTMLImageElement>('profile-avatar-image');
  image.hidden = !url;
  if (url) image.src = url;
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
    supabase.from('team_members').select('user_id, role, profiles(display_name, avatar_url)').eq('team_id', teamId),
  );
  return members.map((member) => ({
    userId: member.user_id,
    role: member.role,
    name: member.profiles?.display_name ?? `member ${member.user_id.slice(0, 4)}`,
    avatarUrl: member.profiles?.avatar_url ?? null,
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
