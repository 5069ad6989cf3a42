/**
 * ingest's file contracts, browser-safe (zod only): manifest.json, read by featurize and viz to
 * find the images. captions.arrow's columns are documented in the README.
 */
import * as z from 'zod';

export const INGEST_MANIFEST_FILE = 'manifest.json';

export const ingestManifestSchema = z.object({
  /** Images folder, relative to the workspace root when inside it (absolute otherwise). */
  imagesDir: z.string().min(1),
  /** Dataset layout that was read (`kaggle`, `original`). */
  layout: z.string(),
  /** Where the split came from (`official` lists or a `seeded` split). */
  splitSource: z.string(),
  captions: z.number().int().min(0).optional(),
  images: z.number().int().min(0).optional(),
});
export type IngestManifest = z.infer<typeof ingestManifestSchema>;
