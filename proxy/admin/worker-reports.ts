/**
 * With `proxy.workers` > 1 the admin listener is shared, so whichever worker
 * takes an admin request answers for all of them: it asks the master, the master
 * asks every serving worker for its report (status or metrics), and the answer
 * merges them (workers-view.ts). One worker answers for itself alone.
 */
import { isIpcMessage, type CollectMessage, type ReportKind, type ReportReplyMessage } from '../../lib/ipc.js';

/** How long the master's gathering may take before the admin answer goes out with what came (the master waits 1 s per worker). */
const COLLECT_TIMEOUT_MS = 2500;

export interface WorkerReport {
  worker: number;
  body: unknown;
}

/** This process's number among the proxy workers (1 …) and how many there are, as the master started it (1 of 1 alone). */
export const WORKER = Number(process.env.PORTICO_PROXY_WORKER ?? 1);
export const WORKERS = Number(process.env.PORTICO_PROXY_WORKERS ?? 1);

export class WorkerReports {
  private readonly waiting = new Map<number, (reports: WorkerReport[]) => void>();
  private nextId = 1;

  /** `report`: this worker's own report of `what`. */
  constructor(private readonly report: (what: ReportKind) => Promise<unknown>) {
    if (!process.send) return;
    // Answered even by a lone worker: during a restart to more workers, the master asks every one.
    process.on('message', (message: unknown) => {
      if (!isIpcMessage(message)) return;
      if (message.type === 'report') {
        this.report(message.what)
          .catch(() => undefined) // left out of the merged answer
          .then((body) => { if (process.connected) process.send?.({ type: 'report-reply', id: message.id, body } satisfies ReportReplyMessage); }, () => {});
      } else if (message.type === 'collect-reply') {
        this.waiting.get(message.id)?.(message.reports);
        this.waiting.delete(message.id);
      }
    });
  }

  /** Every serving worker's report of `what` (this one's alone when it is the only worker, or the master does not answer in time). */
  async collect(what: ReportKind): Promise<WorkerReport[]> {
    const own = async () => [{ worker: WORKER, body: await this.report(what) }];
    if (WORKERS <= 1 || !process.send) return own();
    const id = this.nextId++;
    const reports = await new Promise<WorkerReport[] | undefined>((resolve) => {
      const timer = setTimeout(() => { this.waiting.delete(id); resolve(undefined); }, COLLECT_TIMEOUT_MS);
      this.waiting.set(id, (r) => { clearTimeout(timer); resolve(r); });
      process.send!({ type: 'collect', id, what } satisfies CollectMessage);
    });
    return reports && reports.length > 0 ? reports.sort((a, b) => a.worker - b.worker) : own();
  }
}
