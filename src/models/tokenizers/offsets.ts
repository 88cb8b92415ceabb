// Token ids with the character span of each token in the text they came from: what maps a chat
// template's character spans (an assistant's answer) onto token positions, as transformers'
// return_offsets_mapping does. Tokenizers.js gives no offsets, so they are recovered from the
// tokens themselves: each token's surface bytes (GPT-2's byte-level alphabet decoded, or the
// piece's own text with SentencePiece's '▁' as a space and <0xNN> byte fallback), laid end to end.
// The result is checked: the pieces must spell the text exactly (one leading space that a
// Metaspace pre-tokenizer adds is allowed), else the tokenizer's pieces cannot be mapped and the
// caller gets an error instead of a silently wrong mask.
import { BYTE_TO_CHAR } from './byte-level.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface EncodedWithOffsets {
  ids: number[];
  /** [start, end) in UTF-16 code units of `text`, per token; a token that adds text of its own (a prefix space) has start === end. */
  offsets: [number, number][];
}

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8 = new TextEncoder();

/** Bytes of a byte-level piece, or undefined when a character is outside GPT-2's alphabet. */
function byteLevelBytes(piece: string): number[] | undefined {
  const out: number[] = [];
  for (const ch of piece) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}

/** Bytes of a text piece: '▁' is a space (SentencePiece), <0xNN> one byte (byte fallback). */
function textBytes(piece: string): number[] {
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (m) return [parseInt(m[1]!, 16)];
  return [...utf8.encode(piece.replaceAll('▁', ' '))];
}

/** Byte offset → UTF-16 offset for every byte boundary of `text` (undefined inside a multi-byte character). */
function byteToChar(text: string): (number | undefined)[] {
  const map: (number | undefined)[] = [0];
  let chars = 0;
  for (const ch of text) {
    const n = utf8.encode(ch).length;
    for (let k = 1; k < n; k++) map.push(undefined);
    chars += ch.length;
    map.push(chars);
  }
  return map;
}

function layOut(text: string, pieces: number[][]): [number, number][] | undefined {
  const target = utf8.encode(text);
  const map = byteToChar(text);
  let pos = 0;
  let extraLead = 0; // bytes a Metaspace pre-tokenizer added in front of the text
  const spans: [number, number][] = [];
  for (const [i, bytes] of pieces.entries()) {
    let start = pos;
    for (const [k, b] of bytes.entries()) {
      if (i === 0 && k === 0 && b === 0x20 && target[0] !== 0x20 && extraLead === 0) {
        extraLead = 1;
        continue;
      }
      if (target[pos] !== b) return undefined;
      pos++;
    }
    // A token may end inside a multi-byte character (byte fallback); its span then reaches the character's end.
    let end = pos;
    while (end < map.length && map[end] === undefined) end++;
    while (start > 0 && map[start] === undefined) start--;
    spans.push([map[start]!, map[end] ?? text.length]);
  }
  return pos === target.length ? spans : undefined;
}

/** Encodes `text` and returns each token's character span; throws when the pieces do not spell the text. */
export function encodeWithOffsets(tokenizer: Tokenizer, text: string): EncodedWithOffsets {
  const ids = tokenizer.encode(text);
  const pieces = ids.map((id) => tokenizer.idToToken(id) ?? '');
  const byteLevel = pieces.map(byteLevelBytes);
  const offsets =
    (byteLevel.every((b) => b !== undefined) ? layOut(text, byteLevel as number[][]) : undefined) ??
    layOut(text, pieces.map(textBytes));
  if (!offsets) {
    const unknown = tokenizer.unkId === undefined ? -1 : ids.indexOf(tokenizer.unkId);
    if (unknown >= 0) {
      throw new Error(
        `tokenizer: the text has a character the vocabulary lacks (token ${unknown} is the unknown token ${JSON.stringify(pieces[unknown])}), so answer tokens cannot be located; build the tokenizer from text that includes every character of the data`,
      );
    }
    throw new Error(
      'tokenizer: its tokens do not spell the text back (a normalizer changed it, or the pieces use a scheme Retort cannot map), so answer tokens cannot be located; ' +
        'use a byte-level BPE or SentencePiece tokenizer without a text-changing normalizer, or NFC-normalize the data first',
    );
  }
  return { ids, offsets };
}
