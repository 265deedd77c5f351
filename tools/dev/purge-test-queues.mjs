// Deletes the queues and exchanges that test suites left on the local broker (names start with a
// suite prefix like `t1a2b3c4d.`): killed test runs cannot clean up after themselves, and
// thousands of leftover quorum queues make RabbitMQ slow to boot. Only for test brokers.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { connect } = require('amqplib');
const TEST_NAME = /^t[0-9a-f]{8}\./;

const list = (what) =>
  execFileSync('rabbitmqctl', ['-q', `list_${what}`, 'name'], { encoding: 'utf8', timeout: 120000 })
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => TEST_NAME.test(name));

const queues = list('queues');
const exchanges = list('exchanges');
const connection = await connect(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672', { timeout: 10000 });
const channel = await connection.createChannel();
for (const queue of queues) await channel.deleteQueue(queue);
for (const exchange of exchanges) await channel.deleteExchange(exchange);
await connection.close();
console.log(`deleted ${queues.length} test queues and ${exchanges.length} test exchanges`);
