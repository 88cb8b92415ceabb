import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emailText, htmlToText } from './email.ts';

test('a plain email loses its headers and keeps its subject', () => {
  const raw =
    'From someone  Thu Aug 22 12:36:23 2002\nReceived: from a\n\tby b\nSubject: Hello\n  there\nFrom: x@y\n\nLine one.\nLine two.\n';
  assert.deepEqual(emailText(raw), { subject: 'Hello there', body: 'Line one.\nLine two.' });
});

test('quoted-printable and base64 bodies are decoded with their charset', () => {
  const qp =
    'Subject: q\nContent-Type: text/plain; charset="iso-8859-1"\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 =3D good, soft=\nbreak\n';
  assert.equal(emailText(qp).body, 'Café = good, softbreak');
  const b64 = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('naïve — ok').toString('base64')}\r\n`;
  assert.equal(emailText(b64).body, 'naïve — ok');
});

test('multipart/alternative prefers non-empty plain text, falls back to HTML; attachments are dropped', () => {
  const alt = (plain: string) =>
    [
      'Content-Type: multipart/alternative; boundary="XX"',
      '',
      'preamble',
      '--XX',
      'Content-Type: text/plain',
      '',
      plain,
      '--XX',
      'Content-Type: text/html',
      '',
      '<p>From <b>HTML</b> &amp; co</p>',
      '--XX--',
      'epilogue',
    ].join('\n');
  assert.equal(emailText(alt('From plain')).body, 'From plain');
  assert.equal(emailText(alt('   ')).body, 'From HTML & co');
  const mixed = [
    'Content-Type: multipart/mixed; boundary=B',
    '',
    '--B',
    'Content-Type: text/plain',
    '',
    'See attached.',
    '--B',
    'Content-Type: image/gif',
    'Content-Transfer-Encoding: base64',
    '',
    'R0lGODlhAQABAAAAACw=',
    '--B--',
  ].join('\n');
  assert.equal(emailText(mixed).body, 'See attached.');
});

test('HTML becomes readable text', () => {
  const html =
    '<html><head><title>t</title><style>p{}</style></head><body><script>x()</script><p>Buy&nbsp;now!</p><br>Only &#36;9 &#x2014; <a href="#">here</a></body></html>';
  assert.equal(htmlToText(html), 'Buy now!\n\nOnly $9 — here');
  assert.equal(emailText(`Subject: s\n\n${html}`).body, 'Buy now!\n\nOnly $9 — here', 'untyped HTML is read as HTML');
  assert.equal(htmlToText('&constructor; &bogus;'), '&constructor; &bogus;');
});

test('headers pasted at the top of a forwarded body are dropped too', () => {
  const raw = 'Subject: fwd\n\nReturn-Path: <a@b>\nReceived: from x\n  by y\nSubject: Hello\n\nThe real text.\n';
  assert.equal(emailText(raw).body, 'The real text.');
  assert.equal(
    emailText('Subject: s\n\nFrom: the desk of the editor\nhello\n').body,
    'From: the desk of the editor\nhello',
    'a lone line is not a header block',
  );
});
