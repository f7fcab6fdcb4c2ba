import winston from 'winston';
import type { LogLevel } from './config.js';

export type Logger = winston.Logger;

/**
 * JSON lines on stderr, each carrying the job name, so stdout stays free for data
 * (`pinpipe emulate --out -`) and a log shipper can parse every line.
 */
export function createLogger(job: string, level: LogLevel = 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { job },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
  });
}
