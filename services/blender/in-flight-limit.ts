import { meter } from '../../libs/bootstrap/telemetry.js';
import { unavailable } from '../../libs/bootstrap/errors.js';

let shed: ReturnType<typeof createShedCounter> | undefined;
const createShedCounter = () =>
  meter().createCounter('feedloom.blender.shed', {
    description: 'Blend requests refused because the blender had maxInFlight Blends in flight',
  });

/**
 * Load shedding: at most `limit` Blends at once. One over the limit is refused at once with
 * UNAVAILABLE. Queued, it would wait behind the others and push them all past their deadlines: a
 * mesh offered more than it can serve then answers almost nothing in time. Refused, the excess fails
 * fast and can be retried on another replica, while the admitted Blends stay within their budgets.
 */
export class InFlightLimit {
  private inFlight = 0;

  constructor(readonly limit: number) {}

  get current(): number {
    return this.inFlight;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit) {
      shed ??= createShedCounter();
      shed.add(1);
      throw unavailable(
        `blender overloaded: ${this.inFlight} Blends in flight, its limit (services.blender.maxInFlight); retry with backoff, or on another replica`,
      );
    }
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }
}
