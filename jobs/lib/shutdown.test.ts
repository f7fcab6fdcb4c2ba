import { describe, expect, it, vi } from 'vitest';
import { createLogger } from './logger.js';
import { installShutdown } from './shutdown.js';

const logger = createLogger('test', 'error');

describe('graceful shutdown', () => {
  it('aborts the signal and runs hooks last-registered-first on SIGTERM', async () => {
    const exit = vi.fn();
    const shutdown = installShutdown({ logger, exit });
    const order: string[] = [];
    shutdown.onShutdown(() => {
      order.push('client');
    });
    shutdown.onShutdown(async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('consumer');
    });
    process.emit('SIGTERM', 'SIGTERM');
    expect(shutdown.signal.aborted).toBe(true);
    await shutdown.close();
    expect(order).toEqual(['consumer', 'client']);
    expect(exit).not.toHaveBeenCalled();
    shutdown.dispose();
  });

  it('forces the exit on a second signal', () => {
    const exit = vi.fn();
    const shutdown = installShutdown({ logger, exit });
    shutdown.onShutdown(() => new Promise(() => undefined));
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    expect(exit).toHaveBeenCalledWith(130);
    shutdown.dispose();
  });

  it('forces the exit when hooks overrun the bound', async () => {
    const exit = vi.fn();
    const shutdown = installShutdown({ logger, exit, timeoutMs: 20 });
    shutdown.onShutdown(() => new Promise(() => undefined));
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 60));
    expect(exit).toHaveBeenCalledWith(143);
    shutdown.dispose();
  });

  it('keeps going when a hook fails', async () => {
    const shutdown = installShutdown({ logger, exit: vi.fn() });
    const ran: string[] = [];
    shutdown.onShutdown(() => {
      ran.push('first');
    });
    shutdown.onShutdown(() => {
      throw new Error('boom');
    });
    await shutdown.close();
    expect(ran).toEqual(['first']);
    shutdown.dispose();
  });
});
