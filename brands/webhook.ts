// Alert delivery to a webhook: POST of the alert as JSON, signed (HMAC-SHA256 of the body with a shared
// secret, as GitHub and Stripe do), with the alert id as the idempotency key, a timeout and retries with
// backoff. Delivery is at least once (a crash between delivery and the next snapshot sends it again), so
// the receiver dedupes by `Idempotency-Key`; the alerts topic itself is exactly once.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SpikeAlert } from './spikes.js';

export interface WebhookOptions {
  url: string;
  /** Shared secret for the signature header; unsigned without one. */
  secret?: string | undefined;
  timeoutMs?: number;
  /** Attempts before giving up on one alert (it stays pending and is tried again after a restart). */
  attempts?: number;
  /** First backoff (ms), doubled each attempt, with jitter. */
  backoffMs?: number;
}

export const SIGNATURE_HEADER = 'x-klassify-signature';

/** `sha256=<hex>` of the exact body bytes, as the receiver recomputes it. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Posts one alert; resolves true once a 2xx came back, false after the last attempt failed. */
export async function deliverAlert(alert: SpikeAlert, o: WebhookOptions, log: (line: string) => void = () => undefined): Promise<boolean> {
  const body = JSON.stringify(alert);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': alert.id };
  if (o.secret) headers[SIGNATURE_HEADER] = signature(body, o.secret);
  const attempts = o.attempts ?? 6;
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await fetch(o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 5_000) });
      await r.body?.cancel();
      if (r.ok) return true;
      // A 4xx other than 408/429 will not change by retrying: the receiver refused this alert.
      if (r.status < 500 && r.status !== 408 && r.status !== 429) {
        log(`webhook refused alert ${alert.id}: HTTP ${r.status}`);
        return true;
      }
      log(`webhook answered HTTP ${r.status} for alert ${alert.id} (attempt ${i + 1}/${attempts})`);
    } catch (err) {
      log(`webhook failed for alert ${alert.id} (attempt ${i + 1}/${attempts}): ${(err as Error).message}`);
    }
    const ms = (o.backoffMs ?? 500) * 2 ** i;
    await sleep(ms / 2 + Math.random() * (ms / 2));
  }
  return false;
}
