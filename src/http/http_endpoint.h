/*
 * http_endpoint.h — the endpoints of the HTTP API, as routed by the request
 * layer and counted by metrics. A leaf header: both include it, neither
 * includes the other's header for it.
 */
#ifndef HTTP_ENDPOINT_H
#define HTTP_ENDPOINT_H

typedef enum HttpEndpoint
{
	HTTP_EP_PIN = 0,
	HTTP_EP_PINS,
	HTTP_EP_HEALTHZ,
	HTTP_EP_METRICS,
	HTTP_EP_TOPICS,	 /* POST /topics/{topic}: Kafka REST Proxy v2 produce */
	HTTP_EP_STREAMS, /* PUT /streams/{name}/record: Kinesis PutRecord */
	HTTP_EP_OTHER,
	HTTP_EP_COUNT
} HttpEndpoint;

#endif /* HTTP_ENDPOINT_H */
