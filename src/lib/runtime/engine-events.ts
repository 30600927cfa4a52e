// A Docker engine's event stream (GET /events, Engine API 1.41), read for as long as the reaper runs: one long-lived
// response whose body is one JSON event per line and never ends while the engine is up. It is not a reply to read
// whole (DockerApi's bounded send), so it has a reader of its own: lines are split as they arrive, each held to
// MAX_EVENT_BYTES (an event is a few hundred bytes; a line over the cap is skipped whole and reported, never
// buffered), and nothing is kept once a line is handed on. When the stream ends (the engine restarted, a proxy cut
// it) the reader reconnects with a doubling backoff and asks for `since=` the last event it saw, so what the engine
// logged meanwhile is replayed (the engine keeps a bounded buffer of recent events, and a restarted engine an empty
// one: the caller treats every reconnection as a possible gap). Between events it does nothing: no timer runs while
// the stream is open.
import type {IncomingMessage} from 'node:http'

import type {DockerApi} from './docker-api.js'

import {RuntimeUnreachableError} from './errors.js'

/** An event is some 300-600 bytes; a container with many long labels a few KB. More than this is not an event. */
export const MAX_EVENT_BYTES = 256 * 1024
/** The first wait before reconnecting, doubled after each failed attempt up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000

/** One event as the engine sends it, with what the reaper reads of it. */
export interface EngineEvent {
  /** die, destroy, create ... */
  action: string
  /** The actor's attributes: a container's name, image and labels; a network's name and type. */
  attributes: Record<string, string>
  /** The actor's ID: the container's or network's full ID. */
  id: string
  /** When the engine logged it, ms since the epoch on the engine's clock. */
  timeMs: number
  /** The engine's exact time, `seconds.nanoseconds` as `since=` takes it (JSON numbers cannot hold the nanoseconds). */
  timestamp: string
  /** container, network ... */
  type: string
}

/**
 * Splits a byte stream into lines of at most `maxBytes`, handing each whole line on as it completes. A line over the
 * cap is dropped (its bytes are not kept while the rest of it arrives) and reported once with its length so far.
 */
export class LineReader {
  private held: Buffer[] = []
  private heldBytes = 0
  private skipping = false

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOversized: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, newline), true)
      start = newline + 1
    }

    if (start < chunk.length) this.take(chunk.subarray(start), false)
  }

  private take(piece: Buffer, ends: boolean): void {
    if (!this.skipping && this.heldBytes + piece.length > this.maxBytes) {
      this.onOversized(this.heldBytes + piece.length)
      this.held = []
      this.heldBytes = 0
      this.skipping = true
    }

    if (this.skipping) {
      if (ends) this.skipping = false
      return
    }

    if (!ends) {
      this.held.push(piece)
      this.heldBytes += piece.length
      return
    }

    const line = (this.held.length > 0 ? Buffer.concat([...this.held, piece]) : piece).toString('utf8')
    this.held = []
    this.heldBytes = 0
    if (line.trim()) this.onLine(line)
  }
}

/** One line of the stream as an event, or undefined when it is not one (it is then ignored). */
export function parseEvent(line: string): EngineEvent | undefined {
  let raw: {Action?: unknown; Actor?: {Attributes?: unknown; ID?: unknown}; time?: unknown; Type?: unknown}
  try {
    raw = JSON.parse(line)
  } catch {
    return undefined
  }

  // The exact nanoseconds are read from the text: as a JSON number they are rounded to some 100 ns.
  const nanos = /"timeNano":(\d{10,})/.exec(line)?.[1]
  const seconds = typeof raw.time === 'number' ? raw.time : undefined
  if (typeof raw.Action !== 'string' || typeof raw.Type !== 'string' || (seconds === undefined && !nanos)) return undefined
  const timestamp = nanos ? `${nanos.slice(0, -9)}.${nanos.slice(-9)}` : `${seconds}.000000000`
  const attributes: Record<string, string> = {}
  if (raw.Actor?.Attributes && typeof raw.Actor.Attributes === 'object') {
    for (const [key, value] of Object.entries(raw.Actor.Attributes)) if (typeof value === 'string') attributes[key] = value
  }

  return {
    action: raw.Action,
    attributes,
    id: typeof raw.Actor?.ID === 'string' ? raw.Actor.ID : '',
    timeMs: Math.floor(Number(timestamp) * 1000),
    timestamp,
    type: raw.Type,
  }
}

export interface EventStreamOptions {
  engine: DockerApi
  /** `filters=` of GET /events: e.g. {type: ['container', 'network'], event: ['die', 'destroy', 'create']}. */
  filters: Record<string, string[]>
  maxEventBytes?: number
  /** Each event, in the engine's order; `replayed` when it happened before this connection was made. */
  onEvent(event: EngineEvent, replayed: boolean): void
  /**
   * The stream is open. `resumed`: after a drop, with what was missed asked for again (`since=` the last event seen,
   * or the first connection's time): the engine's buffer is bounded and a restarted engine's is new, so events may
   * still have been lost.
   */
  onOpen(resumed: boolean): void
  /** Something the caller says once: `unsupported` stops the stream (the engine has no event stream to give). */
  onProblem(problem: {kind: 'lost' | 'oversized' | 'unsupported'; message: string}): void
  /** The first connection asks for events since then (seconds on the engine's clock, to the millisecond): nothing after it is missed. */
  sinceSeconds: number
}

/**
 * Keeps one engine's event stream open until close(): a dropped stream is reopened with a doubling backoff (back to
 * the shortest once a connection stayed open longer than the longest wait), asking for the events since the last one
 * seen.
 */
export class EventStream {
  private backoffMs = FIRST_BACKOFF_MS
  private closeConnection?: () => void
  private closed = false
  private last?: {id: string; timestamp: string}
  private opened = false
  /** When the current connection opened: one that stayed open a while resets the backoff when it drops. */
  private openedAt?: number
  private retry?: NodeJS.Timeout
  private retrying = false
  private since: string

  constructor(private readonly options: EventStreamOptions) {
    // `seconds.nanoseconds` with all nine digits: the engine reads the part after the dot as nanoseconds.
    const [seconds, millis] = Math.max(0, options.sinceSeconds).toFixed(3).split('.')
    this.since = `${seconds}.${millis}000000`
  }

  close(): void {
    this.closed = true
    clearTimeout(this.retry)
    this.retrying = false
    this.closeConnection?.()
  }

  /** Opens the stream (once; later connections are made by the stream itself). */
  start(): void {
    this.reconnect()
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    const query = `since=${this.since}&filters=${encodeURIComponent(JSON.stringify(this.options.filters))}`
    let opened: {close(): void; response: IncomingMessage}
    try {
      opened = await this.options.engine.stream(`/events?${query}`)
    } catch (error) {
      this.lost(error instanceof RuntimeUnreachableError ? error.message : `the event stream could not be opened: ${(error as Error).message}`)
      return
    }

    const {close, response} = opened
    this.closeConnection = close
    if (this.closed) {
      close()
      return
    }

    if (response.statusCode !== 200) {
      // An engine (or a proxy in front of it) that has no event stream to give: said once, and left to the interval.
      response.resume()
      close()
      this.options.onProblem({kind: 'unsupported', message: `GET /events answered HTTP ${response.statusCode}`})
      return
    }

    const resumed = this.opened
    this.opened = true
    this.openedAt = Date.now()
    // Events the engine logged before this moment are a replay of what this connection asked for with since=.
    const openedAtMs = this.options.engine.now()
    this.options.onOpen(resumed)
    const reader = new LineReader(
      this.options.maxEventBytes ?? MAX_EVENT_BYTES,
      (line) => this.line(line, openedAtMs),
      (bytes) => this.options.onProblem({kind: 'oversized', message: `an event over ${MAX_EVENT_BYTES / 1024} KiB (${bytes} bytes and more) was skipped`}),
    )
    response.on('data', (chunk: Buffer) => reader.push(chunk))
    let over = false
    const ended = (why: string) => {
      if (over) return
      over = true
      close()
      if (this.closeConnection === close) this.closeConnection = undefined
      this.lost(why)
    }

    response.on('end', () => ended('the engine ended its event stream'))
    response.on('error', (error) => ended(`the event stream failed: ${error.message}`))
    response.on('close', () => ended('the event stream was cut'))
  }

  private line(line: string, openedAtMs: number): void {
    const event = parseEvent(line)
    if (!event) return
    // since= includes the event it names: the last one seen comes again first.
    if (this.last && event.timestamp === this.last.timestamp && event.id === this.last.id) return
    this.last = {id: event.id, timestamp: event.timestamp}
    this.since = event.timestamp
    this.options.onEvent(event, event.timeMs < openedAtMs)
  }

  /** The stream is gone or could not be opened: tried again after the backoff, which doubles each time. */
  private lost(message: string): void {
    if (this.closed || this.retrying) return
    this.retrying = true
    // A stream that had been open a while starts over at the shortest wait; one that keeps dropping at once does not.
    if (this.openedAt !== undefined && Date.now() - this.openedAt > MAX_BACKOFF_MS) this.backoffMs = FIRST_BACKOFF_MS
    this.openedAt = undefined
    this.options.onProblem({kind: 'lost', message})
    const wait = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS)
    this.retry = setTimeout(() => {
      this.retrying = false
      this.reconnect()
    }, wait)
  }

  /** connect() handles its own failures; anything else it throws is a lost stream too, tried again. */
  private reconnect(): void {
    this.connect().catch((error: Error) => this.lost(`the event stream failed: ${error.message}`))
  }
}
