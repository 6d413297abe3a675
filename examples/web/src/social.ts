// Social accounts: the OAuth round trip through the worker (JSON mode: the app opens the
// platform's page itself, and completes the connection when the browser comes back).
import { byId, element, notify, onSubmit } from './dom';
import { rows, supabase, type Views } from './supabase';
import { call } from './worker';

export type Account = Views<'social_accounts'>;

/** What the app keeps across the trip to the platform and back. */
const PENDING = 'pixa.oauth';

interface Pending {
  platform: string;
  binding: string;
}

export function setUpConnections(team: () => string | null): void {
  onSubmit('connect-form', async () => {
    const teamId = team();
    if (teamId) await connect(byId<HTMLSelectElement>('connect-platform').value, teamId);
  });
}

/** Leaves for the platform's consent page; the browser comes back to this page. */
async function connect(platform: string, teamId: string): Promise<void> {
  const query = new URLSearchParams({ teamId, redirectTo: `${location.origin}/` });
  const started = await call<{ authorizeUrl: string; binding: string }>(`/v1/oauth/${platform}/start?${query}`);
  sessionStorage.setItem(PENDING, JSON.stringify({ platform, binding: started.binding } satisfies Pending));
  location.assign(started.authorizeUrl);
}

/** Finishes a connection the browser came back from (its outcome is in the query), if any. */
export async function completeReturn(): Promise<void> {
  const outcome = new URLSearchParams(location.search);
  const status = outcome.get('connection_status');
  if (!status) return;
  history.replaceState(null, '', location.pathname);
  const pending: Pending | null = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  const platform = outcome.get('platform') ?? 'the platform';
  if (status === 'confirm' && pending?.platform === platform) {
    await call(`/v1/oauth/${platform}/complete`, {
      method: 'POST',
      body: { confirmation: outcome.get('confirmation'), binding: pending.binding },
    });
    notify(`Connected your ${platform} account.`);
  } else if (status === 'success') {
    notify(`Connected your ${platform} account.`);
  } else {
    notify(`Connecting ${platform} did not work (${outcome.get('reason') ?? 'no confirmation'}).`);
  }
}

/** Lists the team's accounts, with Reconnect for those the platform signed out. */
export async function loadAccounts(teamId: string): Promise<Account[]> {
  const accounts = await rows(supabase.from('social_accounts').select('*').eq('team_id', teamId).order('created_at'));
  byId('accounts').replaceChildren(...accounts.map((account) => accountItem(account, teamId)));
  return accounts;
}

function accountItem(account: Account, teamId: string): HTMLElement {
  const name = `${account.platform}: ${account.display_name ?? account.handle ?? account.external_account_id}`;
  const item = element(
    'li',
    { 'data-platform': account.platform ?? '' },
    element('span', {}, name),
    element('span', { class: 'status', 'data-status': account.status ?? '' }, account.status ?? ''),
  );
  if (account.status === 'reauth_required') {
    const reconnect = element('button', { type: 'button', 'aria-label': `Reconnect ${name}` }, 'Reconnect');
    reconnect.addEventListener('click', () => void connect(account.platform!, teamId).catch((e) => notify(String(e))));
    item.append(reconnect);
  }
  return item;
}
