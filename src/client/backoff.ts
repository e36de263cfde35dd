export interface ReconnectOptions {
  /** Delay before the first attempt, ms (default 1000). */
  initialDelay?: number;
  /** Upper bound of the delay, ms (default 30000). */
  maxDelay?: number;
  /** Growth factor per attempt (default 2). */
  multiplier?: number;
  /** Fraction of the delay that is randomised, 0..1 (default 0.5): delay × (1 − jitter × random). */
  jitter?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
}

export type ResolvedReconnectOptions = Required<Omit<ReconnectOptions, 'maxAttempts'>> & { maxAttempts: number };

export function resolveReconnectOptions(options: ReconnectOptions | undefined): ResolvedReconnectOptions {
  const initialDelay = options?.initialDelay ?? 1000;
  return {
    initialDelay,
    maxDelay: Math.max(options?.maxDelay ?? 30_000, initialDelay),
    multiplier: Math.max(options?.multiplier ?? 2, 1),
    jitter: Math.min(Math.max(options?.jitter ?? 0.5, 0), 1),
    maxAttempts: options?.maxAttempts ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first): exponential growth capped at
 * maxDelay, then reduced by a random share of up to `jitter`, so that many clients cut off at once
 * do not come back at once.
 */
export function backoffDelay(attempt: number, options: ResolvedReconnectOptions, random: () => number): number {
  const exponential = options.initialDelay * options.multiplier ** Math.min(attempt, 64);
  const capped = Math.min(exponential, options.maxDelay);
  return Math.round(capped * (1 - options.jitter * random()));
}
