import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { connect, ChannelModel, ConfirmChannel, Channel } from 'amqplib';
import { ReadinessCheck } from '@realapp/platform';
import { coalesceFrameWrites } from './frame-coalescing';

export interface AmqpConnectionOptions {
  url: string;
  service: string;
}

/**
 * One connection per process that comes back by itself after a broker restart. Consumers and
 * the outbox relay listen for `connected` to rebuild their channels on the new connection.
 */
@Injectable()
export class AmqpConnection implements OnModuleDestroy {
  private readonly logger = new Logger('amqp');
  private readonly events = new EventEmitter();
  private model: ChannelModel | null = null;
  private publishChannel: ConfirmChannel | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: AmqpConnectionOptions) {
    this.events.setMaxListeners(100);
  }

  isConnected(): boolean {
    return this.model !== null;
  }

  onConnected(listener: (model: ChannelModel) => void | Promise<void>): void {
    this.events.on('connected', listener);
    if (this.model) void listener(this.model);
  }

  /** Connects now, or waits for the reconnect loop when the broker is down. */
  async start(): Promise<void> {
    if (this.model || this.closed) return;
    this.connecting ??= this.connectOnce().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    try {
      const url = new URL(this.options.url);
      // A short heartbeat notices a dead broker in seconds, which readiness depends on.
      if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '5');
      const model: ChannelModel = await connect(url.toString(), {
        clientProperties: { connection_name: this.options.service },
        timeout: 3000,
      });
      if (!coalesceFrameWrites(model))
        this.logger.warn('amqplib internals changed: frames are written one by one');
      model.on('error', (error: Error) => this.logger.warn({ err: error }, 'broker connection error'));
      model.on('close', () => this.onLost());
      this.model = model;
      this.publishChannel = null;
      this.logger.log('connected to broker');
      this.events.emit('connected', model);
    } catch (error) {
      this.logger.warn({ err: error }, 'broker unreachable, retrying');
      this.scheduleReconnect();
    }
  }

  private onLost(): void {
    if (!this.model) return;
    this.model = null;
    this.publishChannel = null;
    this.events.emit('disconnected');
    if (!this.closed) {
      this.logger.warn('broker connection lost, reconnecting');
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.start();
    }, 1000);
    this.reconnectTimer.unref();
  }

  /** A shared confirm channel for publishers; recreated after a channel or connection error. */
  async confirmChannel(): Promise<ConfirmChannel> {
    if (this.publishChannel) return this.publishChannel;
    const model = this.requireModel();
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => this.logger.warn({ err: error }, 'publish channel error'));
    channel.on('close', () => {
      if (this.publishChannel === channel) this.publishChannel = null;
    });
    this.publishChannel = channel;
    return channel;
  }

  async channel(): Promise<Channel> {
    return this.requireModel().createChannel();
  }

  private requireModel(): ChannelModel {
    if (!this.model) throw new Error('broker not connected');
    return this.model;
  }

  /**
   * Drops the current connection and lets the reconnect loop build a new one, as after a broker
   * restart (used after credential rotation and by the redelivery tests).
   */
  async reconnect(): Promise<void> {
    const model = this.model;
    if (model) await model.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const model = this.model;
    this.model = null;
    this.publishChannel = null;
    if (model) await model.close().catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }
}

@Injectable()
export class BrokerReadiness implements ReadinessCheck {
  readonly name = 'broker';
  constructor(private readonly amqp: AmqpConnection) {}
  isReady(): Promise<boolean> {
    return Promise.resolve(this.amqp.isConnected());
  }
}
