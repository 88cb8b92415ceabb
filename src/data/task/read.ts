// Reads a task dataset (JSONL) into conversations or documents, line by line. The format is the
// one `format` names, or with 'auto' the one the first record's fields show (and the reader says
// what it decided). Every record must be of the file's format. A bad record is an error naming
// file:line, the field and a fix; with skipBad it is skipped, counted and reported instead.
import { basename } from 'node:path';
import { detectFormat, formatRows, RecordError, type FormatName } from './formats.ts';
import { readLines } from './jsonl.ts';
import type { Conversation, Document } from './types.ts';

export interface ReadTaskOptions {
  format: FormatName | 'auto';
  /** Skip bad records (counted in `skipped`) instead of failing on the first. */
  skipBad?: boolean;
  log?: (line: string) => void;
}

export interface SkippedRecord {
  line: number;
  reason: string;
}

export interface TaskFile {
  path: string;
  format: FormatName;
  conversations: Conversation[];
  documents: Document[];
  skipped: SkippedRecord[];
}

const FIELDS_HINT = Object.entries(formatRows)
  .map(([name, r]) => `${name}: ${r.shape}`)
  .join('; ');

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RecordError('(line)', `not JSON (${(err as Error).message})`, 'write one JSON object per line');
  }
}

export function readTaskFile(path: string, o: ReadTaskOptions): TaskFile {
  const name = basename(path);
  let format: FormatName | undefined = o.format === 'auto' ? undefined : o.format;
  const out: TaskFile = { path, format: format ?? 'text', conversations: [], documents: [], skipped: [] };
  const ids = new Set<string>();
  for (const { line, text } of readLines(path)) {
    try {
      const record = parse(text);
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new RecordError(
          '(line)',
          `expected a JSON object, got ${Array.isArray(record) ? 'a list' : JSON.stringify(record)?.slice(0, 40)}`,
          `write one object per line (${FIELDS_HINT})`,
        );
      }
      const r = record as Record<string, unknown>;
      const seen = detectFormat(r);
      if (!seen)
        throw new RecordError(
          '(line)',
          `has none of the fields of a known format (it has ${Object.keys(r).join(', ') || 'no fields'})`,
          `use one of: ${FIELDS_HINT}`,
        );
      if (format === undefined) {
        format = seen;
        out.format = seen;
        o.log?.(`data: ${name}: format ${seen} (from line ${line}'s fields: ${Object.keys(r).join(', ')})`);
      } else if (seen !== format) {
        throw new RecordError(
          '(line)',
          `is a ${seen} record, but ${o.format === 'auto' ? "the file's first record is" : 'data.format is'} ${format}`,
          'keep one format per file (split it, or convert these lines)',
        );
      }
      const rawId = r.id;
      const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : `${name}:${line}`;
      if (ids.has(id))
        throw new RecordError(
          'id',
          `${JSON.stringify(id)} is used by an earlier line`,
          'give every record its own id, or leave id out',
        );
      const item = formatRows[format].read(r, { file: path, line }, id);
      ids.add(id);
      if ('text' in item) out.documents.push(item);
      else out.conversations.push(item);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      const reason = err.field === '(line)' ? `${err.problem}; fix: ${err.fix}` : err.message;
      if (!o.skipBad) throw new Error(`${path}:${line}: ${reason} (or set data.skipBad: true to skip bad lines)`);
      out.skipped.push({ line, reason });
    }
  }
  if (out.conversations.length + out.documents.length === 0) {
    throw new Error(
      `${path}: no ${out.skipped.length > 0 ? 'good ' : ''}records${out.skipped.length > 0 ? ` (${out.skipped.length} skipped, first at line ${out.skipped[0]!.line}: ${out.skipped[0]!.reason})` : ''}; write one JSON object per line`,
    );
  }
  if (out.skipped.length > 0)
    o.log?.(
      `data: ${name}: skipped ${out.skipped.length} bad line(s), first at line ${out.skipped[0]!.line}: ${out.skipped[0]!.reason}`,
    );
  return out;
}
