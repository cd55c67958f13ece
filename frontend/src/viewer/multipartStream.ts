// A multipart/related body read as it streams in, each part handed over as soon as its last
// byte is in. Parts must carry a Content-Length (our series pixel data response gives one per
// frame): the reader copies each part's bytes straight into a buffer of that size instead of
// scanning 70 MB for the boundary.

export interface StreamedPart {
  /** Header fields, names in lower case. */
  readonly headers: ReadonlyMap<string, string>;
  /** The part's content, in a buffer of its own (it can be transferred to another thread). */
  readonly body: Uint8Array;
}

export class MalformedMultipart extends Error {}

/** Header blocks are a few lines; more than this is not a response of ours. */
const MAX_HEAD = 16 * 1024;
const CR = 13;
const LF = 10;
const DASH = 45;

type State = "open" | "head" | "body" | "delimiter" | "done";

export class MultipartStreamReader {
  private state: State = "open";
  /** Bytes of a boundary line or header block that arrived split across chunks. */
  private pending: Uint8Array = new Uint8Array(0);
  private headers: Map<string, string> = new Map();
  private body: Uint8Array = new Uint8Array(0);
  private filled = 0;
  private readonly dashBoundary: Uint8Array;

  constructor(
    boundary: string,
    private readonly onPart: (part: StreamedPart) => void,
  ) {
    if (boundary === "") throw new MalformedMultipart("the response names no multipart boundary");
    this.dashBoundary = ascii(`--${boundary}`);
  }

  /** Feed the next chunk of the body (MalformedMultipart when it cannot be read). */
  push(chunk: Uint8Array): void {
    let data = chunk;
    if (this.pending.length > 0) {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
      this.pending = new Uint8Array(0);
    }
    let at = 0;
    while (at < data.length) {
      if (this.state === "body") {
        at = this.fill(data, at);
        continue;
      }
      if (this.state === "done") return; // the epilogue, ignored
      const next = this.state === "open" ? this.open(data, at) : this.state === "head" ? this.head(data, at) : this.delimiter(data, at);
      if (next < 0) {
        // Not enough bytes to decide: keep them for the next chunk.
        if (data.length - at > MAX_HEAD) throw new MalformedMultipart("a part's header block is too long");
        this.pending = data.slice(at);
        return;
      }
      at = next;
    }
  }

  /** The body has ended: MalformedMultipart unless it ended with the close delimiter. */
  end(): void {
    if (this.state !== "done") throw new MalformedMultipart("the response ended inside a part");
  }

  /** `--boundary` (after optional blank lines) opens the first part. */
  private open(data: Uint8Array, at: number): number {
    let i = at;
    while (i < data.length && (data[i] === CR || data[i] === LF)) i++;
    if (data.length - i < this.dashBoundary.length) return -1;
    if (!startsWith(data, this.dashBoundary, i)) throw new MalformedMultipart("the body does not start with its boundary");
    this.state = "head";
    // The CRLF that ends the boundary line is left for head(): an empty header block is then
    // the CRLF CRLF right there.
    return i + this.dashBoundary.length;
  }

  /** CRLF, header lines, CRLF CRLF: then a body of Content-Length bytes. */
  private head(data: Uint8Array, at: number): number {
    const end = indexOfBlankLine(data, at);
    if (end < 0) return -1;
    if (data[at] !== CR || data[at + 1] !== LF) throw new MalformedMultipart("a boundary line has more after it");
    const text = new TextDecoder().decode(data.subarray(at + 2, end));
    this.headers = new Map();
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) this.headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(this.headers.get("content-length") ?? NaN);
    if (!Number.isSafeInteger(length) || length < 0) throw new MalformedMultipart("a part has no Content-Length");
    this.body = new Uint8Array(length);
    this.filled = 0;
    this.state = "body";
    if (length === 0) this.finishPart();
    return end + 4;
  }

  private fill(data: Uint8Array, at: number): number {
    const n = Math.min(this.body.length - this.filled, data.length - at);
    this.body.set(data.subarray(at, at + n), this.filled);
    this.filled += n;
    if (this.filled === this.body.length) this.finishPart();
    return at + n;
  }

  private finishPart(): void {
    this.state = "delimiter";
    this.onPart({ headers: this.headers, body: this.body });
  }

  /** CRLF --boundary, then "--" (the close delimiter) or the next part's head. */
  private delimiter(data: Uint8Array, at: number): number {
    const need = 2 + this.dashBoundary.length + 2;
    if (data.length - at < need) return -1;
    if (data[at] !== CR || data[at + 1] !== LF || !startsWith(data, this.dashBoundary, at + 2)) {
      throw new MalformedMultipart("a part is longer than its Content-Length");
    }
    const after = at + 2 + this.dashBoundary.length;
    if (data[after] === DASH && data[after + 1] === DASH) {
      this.state = "done";
      return data.length;
    }
    this.state = "head";
    return after;
  }
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function startsWith(bytes: Uint8Array, pattern: Uint8Array, at: number): boolean {
  if (at + pattern.length > bytes.length) return false;
  for (let j = 0; j < pattern.length; j++) if (bytes[at + j] !== pattern[j]) return false;
  return true;
}

/** Index of the CRLF CRLF at or after `from`, or -1. */
function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) return i;
  }
  return -1;
}
