// Approval of members' posts: owners and admins choose whether the team's posts need it, and
// approve or reject (with a comment) what waits; approved posts go out at their time.
import { byId, element, notify } from './dom';
import { rows, supabase } from './supabase';
import { call, explain } from './worker';

let reviewed: { teamId: string; manages: boolean } | undefined;

export function setUpReview(): void {
  const toggle = byId<HTMLInputElement>('team-approval');
  toggle.addEventListener('change', () => {
    if (!reviewed) return;
    const requires_post_approval = toggle.checked;
    void rows(supabase.from('teams').update({ requires_post_approval }).eq('id', reviewed.teamId).select('id'))
      .then(() => notify(requires_post_approval ? "Members' posts now wait for approval." : "Members' posts no longer wait for approval."))
      .catch((error) => notify(explain(error)));
  });
  byId('review-list').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-post]');
    if (button) void review(button.dataset.post!, button.dataset.decision as 'approve' | 'reject');
  });
}

/** The team's approval setting, and for owners and admins the posts waiting for them. */
export async function showReview(teamId: string, manages: boolean): Promise<void> {
  reviewed = { teamId, manages };
  const [team] = await rows(supabase.from('teams').select('requires_post_approval').eq('id', teamId));
  byId<HTMLInputElement>('team-approval').checked = team?.requires_post_approval ?? false;
  const waiting = manages
    ? await rows(
        supabase.from('scheduled_posts').select('id, body, scheduled_at').eq('team_id', teamId).eq('approval_status', 'pending').order('scheduled_at'),
      )
    : [];
  byId('review').hidden = waiting.length === 0;
  byId('review-list').replaceChildren(
    ...waiting.map((post) => {
      const when = post.scheduled_at ? new Date(post.scheduled_at).toLocaleString() : 'now';
      return element(
        'li',
        { 'data-post': post.id },
        element('span', {}, `${post.body} — ${when}`),
        element('label', {}, 'Comment', element('input', { name: 'comment', maxlength: '2000' })),
        element(
          'div',
          { class: 'row' },
          element('button', { type: 'button', 'data-post': post.id, 'data-decision': 'approve' }, 'Approve'),
          element('button', { type: 'button', class: 'secondary', 'data-post': post.id, 'data-decision': 'reject' }, 'Reject'),
        ),
      );
    }),
  );
}

async function review(postId: string, decision: 'approve' | 'reject'): Promise<void> {
  const comment = byId('review-list').querySelector<HTMLInputElement>(`li[data-post="${postId}"] input`)?.value.trim();
  try {
    await call(`/v1/posts/${postId}/${decision}`, { method: 'POST', body: comment ? { comment } : {} });
    notify(decision === 'approve' ? 'Approved: it goes out at its time.' : 'Rejected: it is back with its author.');
    if (reviewed) await showReview(reviewed.teamId, reviewed.manages);
  } catch (error) {
    notify(explain(error));
  }
}
