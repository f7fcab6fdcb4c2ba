import { describe, expect, it } from 'vitest';
import { Slots } from './slots.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('Slots', () => {
  it('holds at most its size and serves waiters in the order they asked, ahead of newcomers', async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) => () =>
      new Promise<void>((resolve) => {
        order.push(name);
        gates.set(name, resolve);
      });
    const done = ['a', 'b', 'c', 'd'].map((name) => slots.run(task(name)));
    await tick();
    expect(order).toEqual(['a', 'b']);
    expect(slots.inUse).toBe(2);
    gates.get('a')?.();
    const late = slots.run(task('e'));
    await tick();
    expect(order).toEqual(['a', 'b', 'c']);
    for (const name of ['b', 'c', 'd', 'e']) {
      gates.get(name)?.();
      await tick();
    }
    await Promise.all([...done, late]);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(slots.inUse).toBe(0);
  });

  it('frees the slot of a task that failed', async () => {
    const slots = new Slots(1);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.inUse).toBe(0);
    expect(await slots.run(async () => 7)).toBe(7);
  });
});
