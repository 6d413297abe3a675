// The reference web app: what a customer's app does with supabase-js and the worker's API.
import type { User } from '@supabase/supabase-js';
import { setUpAi } from './ai';
import { setUpAssist } from './assist';
import { setUpAuth } from './auth';
import { refreshCalendar, setUpCalendar, showCalendar } from './calendar';
import { closeTeamChat, openDirect, openTeamChat, setUpChat } from './chat';
import { openComposer, setUpCompose } from './compose';
import { byId, notify } from './dom';
import { setUpInvitations, setUpWelcome, showInvitations, welcomesInvited } from './invitations';
import { closeJob, setUpJobs } from './jobs';
import { setUpMembers, showMembers } from './members';
import { setUpReview, showReview } from './review';
import { completeReturn, loadAccounts, setUpConnections } from './social';
import { loadProfile, loadTeams, setUpProfile, setUpTeams, showCredits } from './teams';

const state: { user: User | null; teamId: string | null; timezone: string } = { user: null, teamId: null, timezone: 'UTC' };

async function signedIn(user: User | null): Promise<void> {
  state.user = user;
  byId('auth').hidden = Boolean(user);
  byId('sign-out').hidden = byId('whoami').hidden = !user;
  byId('workspace').hidden = byId('welcome').hidden = true;
  if (!user) {
    await Promise.all([closeTeamChat(), closeJob()]);
    return;
  }
  byId('whoami').textContent = `Signed in as ${user.email}`;
  if (await welcomesInvited(user)) return; // joins once they have chosen a password
  await openWorkspace(user);
}

/** The signed-in user's workspace, on `teamId` or the team last shown. */
async function openWorkspace(user: User, teamId?: string): Promise<void> {
  byId('workspace').hidden = false;
  state.timezone = await loadProfile(user);
  await completeReturn(); // back from connecting a social account
  await showInvitations();
  await loadTeams(showTeam, teamId);
}

async function showTeam(teamId: string | null): Promise<void> {
  state.teamId = teamId;
  // Shown once loaded, so nothing is used half-ready.
  byId('team-workspace').hidden = byId('team-members').hidden = true;
  await closeJob();
  if (!teamId || !state.user) return;
  const accounts = await loadAccounts(teamId);
  openComposer(teamId, state.timezone, accounts);
  await Promise.all([
    openTeamChat(teamId, state.user.id),
    showCredits(teamId),
    showMembers(teamId, state.user.id).then((manages) => showReview(teamId, manages)),
    showCalendar(teamId, state.timezone),
  ]);
  byId('team-workspace').hidden = false;
}

function report(error: unknown): void {
  notify(error instanceof Error ? error.message : String(error));
}

setUpAuth((user) => void signedIn(user).catch(report));
setUpProfile(
  () => state.user!,
  (zone) => {
    state.timezone = zone;
    if (state.teamId) void showTeam(state.teamId).catch(report);
  },
  () => void (state.teamId && state.user && showMembers(state.teamId, state.user.id).catch(report)),
);
setUpTeams((teamId) => void showTeam(teamId).catch(report));
setUpChat();
setUpMembers((userId) => void openDirect(userId).catch(report));
const refreshCredits = () => void (state.teamId && showCredits(state.teamId).catch(report));
setUpAi(() => state.teamId, refreshCredits);
setUpAssist(() => state.teamId, refreshCredits);
setUpConnections(() => state.teamId);
setUpInvitations(
  () => state.teamId,
  (teamId) => void loadTeams(showTeam, teamId).catch(report),
);
setUpWelcome(
  () => state.user!,
  (teamId) => void openWorkspace(state.user!, teamId).catch(report),
);
setUpCompose(() => void refreshCalendar().catch(report));
setUpCalendar();
setUpReview();
setUpJobs(() => state.teamId);
