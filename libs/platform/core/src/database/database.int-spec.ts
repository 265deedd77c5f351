import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { BaseConfig } from '../config/base.config';
import { loadConfig } from '../config/config.loader';
import { DatabaseModule } from './database.module';

jest.setTimeout(30_000);

describe('the database pool when the server ends a connection', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('survives a held connection ended between queries, and hands out working connections afterwards', async () => {
    const config = loadConfig('db-guard-probe', BaseConfig, testEnv(db.url));
    @Module({ imports: [DatabaseModule.forRoot(config, 'db-guard-probe')] })
    class ProbeModule {}
    const app = await NestFactory.createApplicationContext(ProbeModule, { logger: false });
    const dataSource = app.get(DataSource);
    try {
      const pool = (dataSource.driver as unknown as { master: Pool }).master;
      // Held, and idle between queries: the pool no longer listens to it and no query runner does.
      const held: PoolClient = await pool.connect();
      const [{ pid }] = (await held.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
      const ended = new Promise<void>((resolve) => held.once('end', () => resolve()));

      await dataSource.query('SELECT pg_terminate_backend($1)', [pid]);
      // Without a listener of its own, the client's `error` event would have ended the process here.
      await ended;
      held.release(new Error('terminated by the test'));

      await expectEventually(async () =>
        expect(await dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]),
      );
      const others = (await dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'db-guard-probe' AND pid = $1`,
        [pid],
      )) as Array<{ n: number }>;
      expect(others[0].n).toBe(0);
    } finally {
      await app.close();
    }
  });
});
