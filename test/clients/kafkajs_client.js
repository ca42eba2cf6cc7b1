// kafkajs (test/clients/package.json) against a Kafka broker, used the way an application would.
//
//   node kafkajs_client.js produce BOOTSTRAP TOPIC FILE
//       every line of FILE as one message, through kafkajs's idempotent producer (acks all,
//       one request in flight), in sends of 500 messages
//   node kafkajs_client.js admin BOOTSTRAP TOPIC NEWTOPIC
//       the admin client: list topics, create NEWTOPIC (3 partitions) twice, create
//       NEWTOPIC.default (broker's default partitions), fetch metadata, describe the cluster
//
// Prints one JSON object on stdout and exits non-zero if anything failed.
'use strict'
const fs = require('fs')
const { Kafka, logLevel, Partitioners } = require('kafkajs')

const [mode, bootstrap, topic, arg] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'pinpipe-test-kafkajs',
  brokers: bootstrap.split(','),
  logLevel: logLevel.ERROR,
  retry: { retries: 5 },
})

async function produce(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const requests = {}
  producer.on(producer.events.REQUEST, (e) => {
    requests[e.payload.apiName] = (requests[e.payload.apiName] || 0) + 1
  })
  const partitions = {}
  let acked = 0
  await producer.connect()
  for (let i = 0; i < lines.length; i += 500) {
    const chunk = lines.slice(i, i + 500)
    const results = await producer.send({
      topic,
      acks: -1,
      messages: chunk.map((value) => ({ value })),
    })
    for (const r of results) {
      if (r.errorCode !== 0) throw new Error(`partition ${r.partition}: error ${r.errorCode}`)
      partitions[r.partition] = (partitions[r.partition] || 0) + 1
    }
    acked += chunk.length
  }
  await producer.disconnect()
  return { lines: lines.length, acked, requests, partitions }
}

async function admin(newTopic) {
  const a = kafka.admin()
  await a.connect()
  const before = await a.listTopics()
  const created = await a.createTopics({
    topics: [{ topic: newTopic, numPartitions: 3 }],
    waitForLeaders: true,
  })
  const again = await a.createTopics({ topics: [{ topic: newTopic, numPartitions: 3 }] })
  const createdDefault = await a.createTopics({
    topics: [{ topic: newTopic + '.default' }],
    waitForLeaders: true,
  })
  const after = await a.listTopics()
  const md = await a.fetchTopicMetadata({ topics: [topic, newTopic, newTopic + '.default'] })
  const cluster = await a.describeCluster()
  await a.disconnect()
  return {
    before: before.sort(),
    created,
    again,
    created_default: createdDefault,
    after: after.sort(),
    metadata: md.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.length,
      with_leader: t.partitions.filter((p) => p.leader >= 0).length,
    })),
    controller: cluster.controller,
    brokers: cluster.brokers.map((b) => b.nodeId).sort(),
  }
}

;(async () => {
  const out = mode === 'produce' ? await produce(arg) : await admin(arg)
  console.log(JSON.stringify(out))
})().catch((e) => {
  console.error(`kafkajs_client ${mode}: ${e.name}: ${e.message}`)
  process.exit(1)
})
