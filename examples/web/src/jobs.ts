// Content jobs: a brief becomes text and an image through the worker's chain of AI steps; the
// progress arrives live (Realtime, `content_jobs`), the result then from `GET /v1/jobs/{id}`.
import type { RealtimeChannel } from '@supabase/supabase-js';
import { chosenDestinations, followPost } from './compose';
import { byId, notify, onSubmit } from './dom';
import { supabase, type Tables } from './supabase';
import { call, explain } from './worker';

type Progress = Pick<Tables<'content_jobs'>, 'state' | 'current_step' | 'steps_total' | 'error_message'>;

interface Job {
  state: string;
  currentStep: number;
  stepsTotal: number;
  errorMessage: string | null;
  result: { text?: string } | null;
  assets: { mimeType: string; signedUrl: string }[];
}

let shown: { jobId: string; channel: RealtimeChannel } | undefined;

export function setUpJobs(team: () => string | null): void {
  onSubmit('job-form', async () => {
    const teamId = team();
    if (!teamId) return;
    const prompt = byId<HTMLTextAreaElement>('job-brief').value;
    const accepted = await call<{ id: string }>('/v1/jobs', { method: 'POST', body: { prompt, teamId } });
    await followJob(accepted.id);
  });
  byId('job-draft').addEventListener('click', () =>
    void act(async (jobId) => {
      await call(`/v1/jobs/${jobId}/draft`, { method: 'POST', body: {} });
      notify('Saved as a draft.');
    }),
  );
  byId('job-post').addEventListener('click', () =>
    void act(async (jobId) => {
      const destinations = await chosenDestinations();
      if (!destinations.length) throw new Error('Choose the accounts under "Compose a post" first.');
      const submitted = await call<{ post?: { id: string }; postId?: string }>(`/v1/jobs/${jobId}/post`, { method: 'POST', body: { destinations } });
      await followPost(submitted.post?.id ?? submitted.postId!);
    }),
  );
}

async function act(action: (jobId: string) => Promise<void>): Promise<void> {
  if (shown) await action(shown.jobId).catch((error) => notify(explain(error)));
}

export async function closeJob(): Promise<void> {
  if (shown) await supabase.removeChannel(shown.channel);
  shown = undefined;
  byId('job').hidden = true;
}

/** Shows a job's progress as it changes: subscribed first, then read, so no step is missed. */
async function followJob(jobId: string): Promise<void> {
  await closeJob();
  byId('job').hidden = false;
  byId('job-actions').hidden = byId('job-image').hidden = true;
  byId('job-text').textContent = '';
  const channel = supabase
    .channel(`job-${jobId}`)
    .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'content_jobs', filter: `id=eq.${jobId}` }, ({ new: job }) =>
      void showProgress(jobId, job as Progress),
    );
  shown = { jobId, channel };
  await new Promise<void>((resolve) => channel.subscribe((status) => status === 'SUBSCRIBED' && resolve()));
  const job = await call<Job>(`/v1/jobs/${jobId}`);
  await showProgress(jobId, { state: job.state, current_step: job.currentStep, steps_total: job.stepsTotal, error_message: job.errorMessage } as Progress);
}

async function showProgress(jobId: string, job: Progress): Promise<void> {
  if (shown?.jobId !== jobId) return;
  const progress = byId<HTMLProgressElement>('job-progress');
  progress.max = job.steps_total;
  progress.value = job.state === 'done' ? job.steps_total : job.current_step;
  byId('job-state').textContent =
    job.state === 'failed'
      ? `Failed: ${job.error_message ?? 'unknown error'}`
      : `${job.state}: ${progress.value} of ${job.steps_total} steps done`;
  if (job.state === 'done') await showResult(jobId);
}

async function showResult(jobId: string): Promise<void> {
  const job = await call<Job>(`/v1/jobs/${jobId}`);
  byId('job-text').textContent = job.result?.text ?? '';
  const image = job.assets.find((asset) => asset.mimeType.startsWith('image/'));
  if (image) byId<HTMLImageElement>('job-image').src = image.signedUrl;
  byId('job-image').hidden = !image;
  byId('job-actions').hidden = false;
}
