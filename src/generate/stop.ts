// Stop strings and streamed text for one row. The row's output is decoded whole after every token
// (a token can be half a UTF-8 character or half a stop string, so per-token decoding would split
// them); text is released only once it can no longer turn into a stop string or a longer character.
export class TextTracker {
  /** Characters of the decoded output already handed out. */
  private emitted = 0;
  private text = '';
  private readonly maxStop: number;

  constructor(private readonly stops: readonly string[] = []) {
    if (stops.some((s) => s.length === 0)) throw new RangeError('stop strings must be non-empty');
    this.maxStop = Math.max(0, ...stops.map((s) => s.length));
  }

  /**
   * Takes the row's whole decoded output so far. Returns the text newly safe to show and, when a stop
   * string has appeared, stops the row: `final` is then the output cut before the earliest stop string.
   */
  update(text: string): { delta: string; stopped: boolean } {
    this.text = text;
    let at = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.text = text.slice(0, at);
      return { delta: this.take(at), stopped: true };
    }
    return { delta: this.take(this.safeEnd(text)), stopped: false };
  }

  /** Releases whatever was held back (the row ended for another reason). */
  flush(): string {
    return this.take(this.text.length);
  }

  /** The output so far, cut before a stop string if one appeared. */
  get final(): string {
    return this.text;
  }

  private take(end: number): string {
    if (end <= this.emitted) return '';
    const delta = this.text.slice(this.emitted, end);
    this.emitted = end;
    return delta;
  }

  /** End of the part of `text` that no later token can change into a stop string or another character. */
  private safeEnd(text: string): number {
    let end = text.length;
    // U+FFFD is what a decoder prints for an incomplete UTF-8 sequence: the next token may complete it.
    while (end > 0 && text[end - 1] === '\uFFFD') end--;
    for (let k = Math.min(this.maxStop - 1, end); k > 0; k--) {
      const tail = text.slice(end - k, end);
      if (this.stops.some((s) => s.startsWith(tail))) return end - k;
    }
    return end;
  }
}
