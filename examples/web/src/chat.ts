// Team chat live through Supabase Realtime: new messages (postgres_changes), who is typing
// (broadcast) and who is online (presence) on the channel's private topic `chat:<id>`. Named
// channels and direct conversations between two members work alike; a conversation someone
// opens with the user appears in their list live (their new `chat_channel_members` row).
import type { RealtimeChannel } from '@supabase/supabase-js';
import { byId, element, fillSelect, notify, onSubmit } from './dom';
import { objectName, rows, supabase, type Tables } from './supabase';
import { teamMembers, type Member } from './teams';

/** How long a typing notice stays without another keystroke from that person. */
const TYPING_SHOWN_MS = 3000;
/** At most one typing broadcast per this interval while someone types. */
const TYPING_SENT_EVERY_MS = 1000;

interface Room {
  teamId: string;
  me: string;
  members: Member[];
  channel?: RealtimeChannel;
  channelId?: string;
  /** The user's new channel memberships, followed while the team's chat is shown. */
  memberships?: RealtimeChannel;
  typing: Map<string, ReturnType<typeof setTimeout>>;
  lastTypingSent: number;
}

let room: Room | undefined;

export function setUpChat(): void {
  onSubmit('channel-form', async (form) => {
    if (!room) return;
    const others = room.members.filter((member) => member.userId !== room?.me).map((member) => member.userId);
    const name = byId<HTMLInputElement>('channel-name').value.trim();
    const channelId = await rows(supabase.rpc('create_chat_channel', { team_id: room.teamId, name, member_ids: others }));
    form.reset();
    await listChannels(channelId);
  });
  byId<HTMLSelectElement>('channel-select').addEventListener('change', (event) =>
    void openChannel((event.target as HTMLSelectElement).value),
  );
  onSubmit('message-form', async (form) => {
    const body = byId<HTMLInputElement>('message-input').value.trim() || null;
    const file = byId<HTMLInputElement>('message-file').files?.[0];
    if (!room?.channelId || (!body && !file)) return;
    const attachment_path = file ? await upload(room.channelId, file) : null;
    await rows(supabase.from('chat_messages').insert({ channel_id: room.channelId, body, attachment_path }).select('id'));
    form.reset();
  });
  byId('message-input').addEventListener('input', () => void sendTyping());
}

/** Shows the team's chat: its channels, and the first one's messages. */
export async function openTeamChat(teamId: string, me: string): Promise<void> {
  await closeTeamChat();
  room = { teamId, me, members: await teamMembers(teamId), typing: new Map(), lastTypingSent: 0 };
  room.memberships = supabase
    .channel(`chat-memberships-${me}`)
    .on(
      'postgres_changes',
      { event: 'INSERT', schema: 'public', table: 'chat_channel_members', filter: `user_id=eq.${me}` },
      ({ new: membership }) => void addChannel(membership as Tables<'chat_channel_members'>).catch((error) => notify(String(error))),
    )
    .subscribe();
  await listChannels();
}

/** Opens the direct conversation with a teammate (created on first use). */
export async function openDirect(userId: string): Promise<void> {
  if (!room) return;
  const channelId = await rows(supabase.rpc('open_direct_channel', { team_id: room.teamId, user_id: userId }));
  await listChannels(channelId);
}

export async function closeTeamChat(): Promise<void> {
  await closeChannel();
  if (room?.memberships) await supabase.removeChannel(room.memberships);
  room = undefined;
}

async function closeChannel(): Promise<void> {
  if (room?.channel) await supabase.removeChannel(room.channel);
  room?.typing.forEach(clearTimeout);
  room?.typing.clear();
  if (room) room.channel = room.channelId = undefined;
  byId('messages').replaceChildren();
  byId('typing').textContent = byId('online').textContent = '';
}

type Channel = Pick<Tables<'chat_channels'>, 'id' | 'name' | 'direct_user_low' | 'direct_user_high'>;
const CHANNEL_COLUMNS = 'id, name, direct_user_low, direct_user_high';

async function listChannels(select?: string): Promise<void> {
  if (!room) return;
  const channels = await rows(supabase.from('chat_channels').select(CHANNEL_COLUMNS).eq('team_id', room.teamId).order('created_at'));
  const chosen = select ?? channels[0]?.id;
  fillSelect(byId('channel-select'), channels.map((channel) => ({ value: channel.id, label: channelLabel(channel) })), chosen);
  if (chosen) await openChannel(chosen);
}

/** A channel the user was just added to, listed without leaving the open one; a conversation
 * someone else opened with them is announced. */
async function addChannel(membership: Tables<'chat_channel_members'>): Promise<void> {
  const select = byId<HTMLSelectElement>('channel-select');
  if (!room || membership.team_id !== room.teamId) return;
  const [channel] = await rows(supabase.from('chat_channels').select(`${CHANNEL_COLUMNS}, created_by`).eq('id', membership.channel_id));
  // Listed meanwhile, e.g. by the list this user's own new channel redraws.
  if (!channel || [...select.options].some((option) => option.value === channel.id)) return;
  select.append(new Option(channelLabel(channel), channel.id));
  if (channel.created_by !== room.me && !channel.name) notify(`${nameOf(channel.created_by)} started a conversation with you.`);
}

/** A named channel by its name, a direct conversation by the other person's. */
function channelLabel(channel: Channel): string {
  if (channel.name) return channel.name;
  const other = channel.direct_user_low === room?.me ? channel.direct_user_high : channel.direct_user_low;
  return `Direct: ${nameOf(other)}`;
}

async function openChannel(channelId: string): Promise<void> {
  await closeChannel();
  if (!room) return;
  room.channelId = channelId;
  const history = await rows(
    supabase.from('chat_messages').select('*').eq('channel_id', channelId).order('id', { ascending: false }).limit(50),
  );
  history.reverse().forEach(showMessage);

  const channel = supabase.channel(`chat:${channelId}`, { config: { private: true, presence: { key: room.me } } });
  room.channel = channel
    .on(
      'postgres_changes',
      { event: 'INSERT', schema: 'public', table: 'chat_messages', filter: `channel_id=eq.${channelId}` },
      ({ new: message }) => showMessage(message as Tables<'chat_messages'>),
    )
    .on('broadcast', { event: 'typing' }, ({ payload }) => showTyping(payload.user_id))
    .on('presence', { event: 'sync' }, () => showOnline(Object.keys(channel.presenceState())))
    .subscribe((status, error) => {
      if (status === 'SUBSCRIBED') void channel.track({ online_at: new Date().toISOString() });
      if (status === 'CHANNEL_ERROR') notify(`Live chat stopped: ${error?.message ?? 'unknown error'}`);
    });
}

function nameOf(userId: string | null): string {
  return room?.members.find((member) => member.userId === userId)?.name ?? 'someone';
}

/** Uploads a file into the channel's folder of the `chat` bucket (only its members may read it). */
async function upload(channelId: string, file: File): Promise<string> {
  const path = `${channelId}/${objectName(file)}`;
  const { error } = await supabase.storage.from('chat').upload(path, file, { contentType: file.type });
  if (error) throw new Error(error.message);
  return path;
}

function showMessage(message: Tables<'chat_messages'>): void {
  const list = byId('messages');
  if (list.querySelector(`[data-id="${message.id}"]`)) return; // history and a live insert can overlap
  const item = element('li', { 'data-id': String(message.id) }, element('span', { class: 'sender' }, nameOf(message.sender_id)), message.body ?? '');
  list.append(item);
  if (message.attachment_path) void showAttachment(item, message.attachment_path, message.attachment_mime_type);
  list.scrollTop = list.scrollHeight;
  if (message.sender_id) stopTyping(message.sender_id); // their message ends their typing
}

/** A link to the attachment (a signed URL: the bucket is private), and the picture if it is one. */
async function showAttachment(item: HTMLElement, path: string, mimeType: string | null): Promise<void> {
  const { data, error } = await supabase.storage.from('chat').createSignedUrl(path, 600);
  if (error) {
    item.append(element('span', { class: 'error' }, ` (attachment unavailable: ${error.message})`));
    return;
  }
  const name = path.split('/').pop()!.replace(/^[\w-]{36}-/, '');
  const link = element('a', { href: data.signedUrl, target: '_blank', rel: 'noopener' }, `📎 ${name}`);
  item.append(' ', link);
  if (mimeType?.startsWith('image/')) link.append(element('img', { src: data.signedUrl, alt: name }));
}

async function sendTyping(): Promise<void> {
  if (!room?.channel || Date.now() - room.lastTypingSent < TYPING_SENT_EVERY_MS) return;
  room.lastTypingSent = Date.now();
  await room.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: room.me } });
}

function showTyping(userId: string): void {
  if (!room) return;
  clearTimeout(room.typing.get(userId));
  room.typing.set(userId, setTimeout(() => stopTyping(userId), TYPING_SHOWN_MS));
  renderTyping();
}

function stopTyping(userId: string): void {
  if (!room) return;
  clearTimeout(room.typing.get(userId));
  room.typing.delete(userId);
  renderTyping();
}

function renderTyping(): void {
  const names = [...(room?.typing.keys() ?? [])].map(nameOf);
  byId('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
}

function showOnline(userIds: string[]): void {
  byId('online').textContent = `Online: ${userIds.map((id) => (id === room?.me ? 'you' : nameOf(id))).join(', ')}`;
}
