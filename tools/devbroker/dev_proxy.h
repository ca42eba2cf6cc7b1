/*
 * dev_proxy.h — a Kafka-protocol-aware TCP proxy in front of librdkafka's mock cluster.
 *
 * One listener per mock broker, on the mock's address; every client connection is relayed
 * to its broker frame by frame. Responses and requests are passed through unchanged except
 * the few that dev_wire.h lists (controller id, broker ports, CreateTopics), so that clients
 * other than librdkafka find a controller and can create topics. The proxy is driven by
 * the caller's thread (ProxyPoll): no thread of its own, no locks.
 */
#ifndef DEV_PROXY_H
#define DEV_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "dev_wire.h"

typedef struct Proxy Proxy;

/*
 * Listen in front of every broker of upstream ("host:port,host:port", as the mock's
 * rd_kafka_mock_cluster_bootstraps prints it). CreateTopics requests go to create.
 * Returns NULL with a message in err on failure.
 */
Proxy *ProxyStart(const char *upstream, WireCreateTopic create, void *arg, char *err,
				  size_t errlen);

/* The proxy's bootstrap list, same form as upstream. */
const char *ProxyBootstraps(const Proxy *p);

/* Relay whatever is ready, waiting at most timeout_ms (returns early on a signal). */
void ProxyPoll(Proxy *p, int timeout_ms);

/* Mirror the mock's brokers going down (refuse and drop connections) or up again. */
void ProxySetDown(Proxy *p, bool down);

void ProxyStop(Proxy *p);

#endif
