import { readFile } from 'node:fs/promises';

/** Resident set size of a process now, from /proc (Linux); null once it is gone. */
export async function rssBytes(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
}

export interface RssFigures {
  service: string;
  /** MiB when the phase started (warm, idle). */
  idleMiB: number;
  /** Highest MiB seen while the phase ran. */
  peakMiB: number;
}

/**
 * Samples the RSS of each service every `intervalMs` while a load phase runs: the memory a service
 * needs under load is its peak, the figure a container limit must cover.
 */
export class RssSampler {
  private readonly idle = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pids: ReadonlyMap<string, number | undefined>) {}

  async start(intervalMs = 250): Promise<void> {
    for (const [service, pid] of this.pids) {
      const rss = (await rssBytes(pid)) ?? 0;
      this.idle.set(service, rss);
      this.peak.set(service, rss);
    }
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  async stop(): Promise<RssFigures[]> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sample();
    const mib = (bytes: number | undefined): number => Math.round(((bytes ?? 0) / 1024 / 1024) * 10) / 10;
    return [...this.pids.keys()].map((service) => ({
      service,
      idleMiB: mib(this.idle.get(service)),
      peakMiB: mib(this.peak.get(service)),
    }));
  }

  private async sample(): Promise<void> {
    for (const [service, pid] of this.pids) {
      const rss = await rssBytes(pid);
      if (rss !== null && rss > (this.peak.get(service) ?? 0)) this.peak.set(service, rss);
    }
  }
}
