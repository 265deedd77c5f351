import { KeyedMutex } from './keyed-mutex';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const job = (name: string) => async (): Promise<string> => {
      events.push(`start ${name}`);
      await tick();
      await tick();
      events.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([mutex.run('a', job('1')), mutex.run('a', job('2')), mutex.run('a', job('3'))]);
    expect(results).toEqual(['1', '2', '3']);
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(mutex.size).toBe(0);
  });

  it('lets different keys run side by side', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    let releaseA!: () => void;
    const a = mutex.run('a', async () => {
      events.push('a started');
      await new Promise<void>((resolve) => (releaseA = resolve));
      events.push('a ended');
    });
    await tick();
    await mutex.run('b', () => {
      events.push('b ran');
      return Promise.resolve();
    });
    releaseA();
    await a;
    expect(events).toEqual(['a started', 'b ran', 'a ended']);
  });

  it('keeps going after a failure', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('a', () => Promise.resolve(2))).resolves.toBe(2);
    expect(mutex.size).toBe(0);
  });
});
