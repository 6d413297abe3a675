// A post's pictures and videos: uploaded to the team's library (bucket `library`, folder
// `<team id>/`), recorded as `content_library_assets`, and referenced from the post the way the
// worker reads them (`scheduled_posts.media`: `[{"libraryAssetId": …}]`).
import { objectName, rows, supabase } from './supabase';

/** A type, not an interface, so it is the `Json` the media column takes. */
export type MediaReference = { libraryAssetId: string };

/** Uploads the files in order; Storage's own type and size become the asset's. */
export async function uploadMedia(teamId: string, files: File[]): Promise<MediaReference[]> {
  const references: MediaReference[] = [];
  for (const file of files) {
    const object_path = `${teamId}/${objectName(file)}`;
    const { error } = await supabase.storage.from('library').upload(object_path, file, { contentType: file.type });
    if (error) throw new Error(`${file.name}: ${error.message}`);
    const [asset] = await rows(
      supabase.from('content_library_assets').insert({ team_id: teamId, object_path, title: file.name, mime_type: file.type }).select('id'),
    );
    references.push({ libraryAssetId: asset.id });
  }
  return references;
}
