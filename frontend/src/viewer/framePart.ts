// The bytes of one frame in a WADO-RS frame response: multipart/related with a single part
// (PS3.18 8.7.3.5), its Content-Type carrying the transfer syntax; or one part already cut out
// of a series pixel data response (seriesPixelData.ts), typed by the part's own Content-Type.
// Read here, not with Cornerstone's own reader, because the entry module fetches frames before
// Cornerstone loads (framePrefetch.ts) and the preview draws one of them.

export interface FramePart {
  /** The part's transfer syntax UID (its Content-Type's transfer-syntax parameter). */
  readonly transferSyntax: string;
  /** The frame's bytes, a view into the response body (no copy). */
  readonly pixelData: Uint8Array;
}

const CRLF = [13, 10] as const;
const HEADER_END = [13, 10, 13, 10] as const;
/** A part's headers are a line or two; more than this is not a response of ours. */
const MAX_HEAD = 1024;
/** Room for what may follow the close delimiter (a CRLF, some whitespace). */
const EPILOGUE = 64;

/** The boundary parameter of a multipart Content-Type ("" when there is none). */
export function boundaryOf(contentType: string): string {
  const match = /;\s*boundary=("([^"]*)"|[^;\s]*)/i.exec(contentType);
  return match ? (match[2] ?? match[1] ?? "") : "";
}

/**
 * The single part of a one-frame WADO-RS response, or null when the body is not exactly one
 * part between `--boundary` and the close delimiter, or the part names no transfer syntax (the
 * caller then leaves the frame to Cornerstone's own loader, which knows every variant).
 */
export function framePart(contentType: string, body: Uint8Array): FramePart | null {
  if (!/^multipart\//i.test(contentType.trim())) {
    const transferSyntax = transferSyntaxOf(contentType);
    return transferSyntax === "" ? null : { transferSyntax, pixelData: body };
  }
  const boundary = boundaryOf(contentType);
  if (!/^multipart\/related/i.test(contentType.trim()) || boundary === "") return null;
  const open = ascii(`--${boundary}`);
  if (!startsWith(body, open, 0) || !startsWith(body, CRLF, open.length)) return null;
  const headEnd = indexOf(body, HEADER_END, open.length, Math.min(body.length, MAX_HEAD));
  if (headEnd < 0) return null;
  const head = new TextDecoder().decode(body.subarray(open.length + 2, headEnd));
  const transferSyntax = transferSyntaxOf(/^content-type:\s*(.*)$/im.exec(head)?.[1] ?? "");
  if (transferSyntax === "") return null;
  // The close delimiter ends the body (one request, one frame, one part): found from the end,
  // so a 0.5 MB frame is not scanned for it byte by byte.
  const close = ascii(`\r\n--${boundary}--`);
  const start = headEnd + HEADER_END.length;
  const end = lastIndexOf(body, close, Math.max(start, body.length - close.length - EPILOGUE));
  if (end < 0) return null;
  // Nothing but an optional CRLF and epilogue whitespace may follow it.
  for (let i = end + close.length; i < body.length; i++) {
    const byte = body[i];
    if (byte !== 13 && byte !== 10 && byte !== 32 && byte !== 9) return null;
  }
  return { transferSyntax, pixelData: body.subarray(start, end) };
}

/** The transfer-syntax parameter of a part's Content-Type ("" when there is none). */
export function transferSyntaxOf(partType: string): string {
  return /;\s*transfer-syntax=("?)([0-9.]+)\1/i.exec(partType)?.[2] ?? "";
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function startsWith(bytes: Uint8Array, pattern: ArrayLike<number>, at: number): boolean {
  if (at + pattern.length > bytes.length) return false;
  for (let j = 0; j < pattern.length; j++) if (bytes[at + j] !== pattern[j]) return false;
  return true;
}

/** First index of `pattern` starting in [from, limit - pattern.length], or -1. */
function indexOf(bytes: Uint8Array, pattern: ArrayLike<number>, from: number, limit: number): number {
  for (let i = from; i + pattern.length <= limit; i++) if (startsWith(bytes, pattern, i)) return i;
  return -1;
}

/** Last index of `pattern` at or after `lowest`, or -1. */
function lastIndexOf(bytes: Uint8Array, pattern: ArrayLike<number>, lowest: number): number {
  for (let i = bytes.length - pattern.length; i >= lowest; i--) if (startsWith(bytes, pattern, i)) return i;
  return -1;
}
