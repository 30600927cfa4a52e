// Counts what a tar stream holds while it passes through: entries and bytes of file content, header checksums
// checked, and whether the archive ended with its end-of-archive blocks. Used to verify a backup without trusting
// the program that wrote it.
import {Transform, type TransformCallback} from 'node:stream'

const BLOCK = 512

export interface TarCount {
  /** Bytes of file content (regular files). */
  bytes: number
  /** The archive closed with a zero block, as a complete tar does. */
  complete: boolean
  /** Entries (files, directories, links, ...), not counting pax and GNU long-name records. */
  entries: number
  /** Why the stream is not a readable tar, if it is not. */
  error?: string
}

/** pax extended headers and GNU long names describe the next entry; they are not entries themselves. */
const META_TYPES = new Set(['g', 'K', 'L', 'x'])

function octal(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length)
  // GNU base-256 for sizes over 8 GiB: high bit set on the first byte.
  if (field[0]! >= 0x80) {
    let value = 0
     
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!
    return value
  }

  const text = field.toString('latin1').replaceAll('\0', ' ').trim()
  return text ? Number.parseInt(text, 8) : 0
}

function checksumOk(block: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!
  return sum === octal(block, 148, 8)
}

/** A pass-through stream that counts the tar flowing through it; `count` is final once the stream has finished. */
export class TarCounter extends Transform {
  readonly count: TarCount = {bytes: 0, complete: false, entries: 0}
  private pending = Buffer.alloc(0)
  /** Bytes of entry data (padded to whole blocks) still to skip before the next header. */
  private skip = 0

  override _flush(callback: TransformCallback): void {
    if (!this.count.error && !this.count.complete) this.count.error = 'the archive ends before its end-of-archive blocks'
    callback()
  }

  override _transform(chunk: Buffer, _encoding: string, callback: TransformCallback): void {
    this.push(chunk)
    if (this.count.error || this.count.complete) {
      callback()
      return
    }

    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    while (data.length > 0) {
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, data.length)
        this.skip -= skipped
        data = data.subarray(skipped)
        continue
      }

      if (data.length < BLOCK) break
      const header = data.subarray(0, BLOCK)
      data = data.subarray(BLOCK)
      if (header.every((byte) => byte === 0)) {
        this.count.complete = true
        break
      }

      if (!checksumOk(header)) {
        this.count.error = `header ${this.count.entries + 1} has a bad checksum`
        break
      }

      const size = octal(header, 124, 12)
      const type = String.fromCodePoint(header[156] || 0x30)
      if (!META_TYPES.has(type)) {
        this.count.entries++
        if (type === '0' || type === '7') this.count.bytes += size
      }

      this.skip = Math.ceil(size / BLOCK) * BLOCK
    }

    this.pending = Buffer.from(data)
    callback()
  }
}
