/**
 * Pure helpers of the dashboard, shared by the page (in the browser) and its tests (in Node): no DOM, no imports.
 */

/** A sample of the broker's counters, as /api/stats reports them. */
export interface CounterSample {
  /** Milliseconds since the epoch, when the sample was taken. */
  at: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  droppedMessages: number;
}

export interface Rates {
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  droppedMessages: number;
}

/**
 * Per-second rates between two samples of monotonic counters. A counter that went down (the broker restarted
 * behind the same address) or a sample not newer than the previous one gives 0, never a negative rate.
 */
export function rates(previous: CounterSample | undefined, current: CounterSample): Rates {
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  const rate = (key: keyof Rates): number => {
    if (!previous || seconds <= 0) return 0;
    const delta = current[key] - previous[key];
    return delta > 0 ? delta / seconds : 0;
  };
  return {
    messagesReceived: rate('messagesReceived'),
    messagesSent: rate('messagesSent'),
    bytesReceived: rate('bytesReceived'),
    bytesSent: rate('bytesSent'),
    droppedMessages: rate('droppedMessages'),
  };
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> '1.5 KiB'. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/** 1234567 -> '1,234,567'; rates keep one decimal below 10 ('2.5'). */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value > 0 && value < 10 && !Number.isInteger(value)) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

/** 93784 -> '1d 2h 3m 4s'; leading zero units are left out. */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return '–';
  let rest = Math.floor(totalSeconds);
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const parts: string[] = [];
  if (days > 0) parts.push(`${days}d`);
  if (days > 0 || hours > 0) parts.push(`${hours}h`);
  if (days > 0 || hours > 0 || minutes > 0) parts.push(`${minutes}m`);
  parts.push(`${seconds}s`);
  return parts.join(' ');
}

/** The MQTT version a client speaks, by protocol level: 3 -> '3.1', 4 -> '3.1.1', 5 -> '5.0'. */
export function formatProtocolVersion(level: number): string {
  if (level === 3) return '3.1';
  if (level === 4) return '3.1.1';
  if (level === 5) return '5.0';
  return String(level);
}
