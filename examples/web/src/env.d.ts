// Set at build time (esbuild `--define`), as a deployed app's build sets its environment.
interface ImportMetaEnv {
  readonly SUPABASE_URL: string;
  readonly SUPABASE_ANON_KEY: string;
  readonly WORKER_URL: string;
}
interface ImportMeta {
  readonly env: ImportMetaEnv;
}
