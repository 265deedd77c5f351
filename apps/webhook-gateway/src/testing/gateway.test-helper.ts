import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { createWebhookGateway } from '../app';

export interface RunningGateway {
  app: NestFastifyApplication;
  url: string;
  dataSource: DataSource;
  close(): Promise<void>;
}

/** The gateway in-process on a free port, against a suite's own database and broker prefix. */
export async function startGateway(env: Record<string, string>): Promise<RunningGateway> {
  const { app } = await createWebhookGateway(env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  return {
    app,
    url,
    dataSource: app.get(DataSource),
    close: async () => {
      const amqp = app.get(AmqpConnection);
      if (amqp.isConnected()) {
        const channel = await amqp.channel();
        await destroyTopology(channel, app.get(Topology)).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
      await app.close();
    },
  };
}
