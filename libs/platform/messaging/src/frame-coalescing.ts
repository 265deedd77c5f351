import type { ChannelModel } from 'amqplib';
import type { Writable } from 'node:stream';

interface Muxer {
  out: Writable;
  _readIncoming(): void;
}

/**
 * amqplib moves the frames its channels queued (publishes, acks) to the socket one `write` at a
 * time, and each write is a system call: with consumers acking batches and the relay publishing
 * batches, those calls were a third of the worker's CPU on this machine (docs/performance.md).
 * Corking the socket while amqplib drains its channels sends everything queued in one turn of the
 * event loop with one `writev`. Frames and their order are unchanged; backpressure still works
 * (a corked socket's `write` answers false past its high-water mark, and amqplib waits for
 * `drain` as before).
 *
 * This reaches into amqplib's connection (`connection.muxer`, present in 0.10 through 2.x). When a
 * version no longer has it, nothing is changed and amqplib writes as it always did.
 */
export function coalesceFrameWrites(model: ChannelModel): boolean {
  const muxer = (model as unknown as { connection?: { muxer?: Partial<Muxer> } }).connection?.muxer;
  if (!muxer || typeof muxer._readIncoming !== 'function' || typeof muxer.out?.cork !== 'function')
    return false;
  const drain = muxer._readIncoming.bind(muxer);
  const out = muxer.out;
  muxer._readIncoming = () => {
    out.cork();
    try {
      drain();
    } finally {
      out.uncork();
    }
  };
  return true;
}
