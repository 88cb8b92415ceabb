// Turns a raw RFC 822 / MIME email into the text a person would read: the Subject line and the body.
// Headers are dropped because in a spam corpus they leak the label (relays, list names, spam-filter
// stamps), and a classifier should learn from what was written, not from how it was routed.
// What the body becomes:
// - a single-part text message: its body, after undoing quoted-printable or base64;
// - multipart/alternative: the text/plain part if it has text, else the first other part that has (HTML as text);
// - other multipart (mixed, related, ...): the text of every text part, in order, blank-line separated;
// - HTML (or an untyped body that starts HTML): scripts, styles and tags removed, entities decoded, whitespace tidied;
// - attachments (images, application/*) are left out; message/rfc822 parts are read as emails;
// - a block of headers pasted at the top of the body (forwards, bounces) is removed too.

export interface EmailText {
  subject?: string;
  body: string;
}

type Headers = Map<string, string>;

/** Splits at the first blank line and unfolds header continuation lines (RFC 5322 2.2.3). */
function splitHeaders(raw: string): { headers: Headers; body: string } {
  const text = raw.replace(/\r\n?/g, '\n');
  const cut = text.indexOf('\n\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 2);
  const headers: Headers = new Map();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // the mbox "From sender date" line has no colon right after the name
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** The bare type ("text/html") and its parameters (boundary, charset) from a Content-Type value. */
function contentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const [type = 'text/plain', ...rest] = (value ?? 'text/plain').split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0)
      params.set(
        p.slice(0, eq).trim().toLowerCase(),
        p
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1'),
      );
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes); // unknown label: Latin-1 at least keeps ASCII right
  }
}

/** Undoes the Content-Transfer-Encoding. The corpus stores each byte as one character, so 8bit text passes as is. */
function decodeTransfer(body: string, encoding: string | undefined, charset: string | undefined): string {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), charset);
  if (enc === 'quoted-printable') {
    const soft = body.replace(/=\n/g, ''); // "=" at line end joins lines
    const bytes: number[] = [];
    for (let i = 0; i < soft.length; i++) {
      const hex = soft[i] === '=' ? soft.slice(i + 1, i + 3) : '';
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) bytes.push(parseInt(hex, 16)), (i += 2);
      else bytes.push(soft.charCodeAt(i) & 0xff);
    }
    return decodeBytes(Uint8Array.from(bytes), charset);
  }
  return body;
}

const ENTITIES: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '©',
  reg: '®',
  trade: '™',
};

export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<(br|\/p|\/div|\/tr|\/h[1-6]|\/li|\/table)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
      }
      return Object.hasOwn(ENTITIES, e.toLowerCase()) ? ENTITIES[e.toLowerCase()]! : m;
    })
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The parts of a multipart body, each with its own headers. Text before the first boundary is the preamble, skipped. */
function multipartParts(body: string, boundary: string): { headers: Headers; body: string }[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split('\n')) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      if (current) parts.push(current.join('\n'));
      current = trimmed === delimiter ? [] : null;
      if (!current) break; // closing delimiter: what follows is the epilogue
    } else current?.push(line);
  }
  if (current) parts.push(current.join('\n')); // unterminated last part: keep it
  return parts.map(splitHeaders);
}

function partText(headers: Headers, body: string, depth: number): string {
  const { type, params } = contentType(headers.get('content-type'));
  if (depth > 8) return '';
  if (type.startsWith('multipart/')) {
    const boundary = params.get('boundary');
    if (!boundary) return body.trim();
    const parts = multipartParts(body, boundary);
    // A boundary that never appears (some spam misquotes it): read the body as one untyped part.
    if (parts.length === 0) return partText(new Map(), body, depth + 1);
    if (type === 'multipart/alternative') {
      // Prefer the plain version; spam often ships an empty one beside the HTML, so fall back to any non-empty part.
      const texts = parts.map((p) => ({
        plain: contentType(p.headers.get('content-type')).type === 'text/plain',
        text: partText(p.headers, p.body, depth + 1),
      }));
      return (texts.find((t) => t.plain && t.text) ?? texts.find((t) => t.text))?.text ?? '';
    }
    return parts
      .map((p) => partText(p.headers, p.body, depth + 1))
      .filter((t) => t.length > 0)
      .join('\n\n');
  }
  if (type === 'message/rfc822') {
    const inner = splitHeaders(body);
    return partText(inner.headers, inner.body, depth + 1);
  }
  if (!type.startsWith('text/')) return ''; // attachments
  if ((headers.get('content-disposition') ?? '').toLowerCase().startsWith('attachment') && type !== 'text/plain')
    return '';
  const text = decodeTransfer(body, headers.get('content-transfer-encoding'), params.get('charset'));
  // Much 2002 spam sends HTML with no Content-Type at all; read it as HTML when it says so itself.
  const html = type === 'text/html' || (!headers.has('content-type') && /<(html|body)\b/i.test(text));
  return (html ? htmlToText(text) : text).trim();
}

/**
 * Some messages were forwarded or bounced with the original's headers pasted at the top of the body;
 * drop such a block (every line "Name: value" or a continuation) when it starts with a routing header.
 */
function dropPastedHeaders(body: string): string {
  if (!/^(Return-Path|Received|Delivered-To|Message-Id|From|X-[\w-]+):/i.test(body)) return body;
  const cut = body.indexOf('\n\n');
  const block = cut < 0 ? body : body.slice(0, cut);
  const headerLines = block.split('\n').every((line) => /^[\w-]+:/.test(line) || /^[ \t]/.test(line));
  return headerLines ? (cut < 0 ? '' : body.slice(cut + 2).trim()) : body;
}

export function emailText(raw: string): EmailText {
  const { headers, body } = splitHeaders(raw);
  const subject = headers.get('subject');
  return { ...(subject !== undefined && { subject }), body: dropPastedHeaders(partText(headers, body, 0)) };
}
