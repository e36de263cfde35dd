import { type Logger as PinoLogger, pino } from 'pino';

/** Starling logs through pino; components receive a Logger and never create their own. */
export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  return destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined });
}

/** A logger that discards everything, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
