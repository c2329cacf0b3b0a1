// Package gocheck runs the official RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2) against Thrust's name server, so
// that the route JSON is judged by the parser that matters: the client's
// own, which reads brokerAddrs by cutting text apart rather than as JSON.
//
// It is a nested module so that the client and its dependency graph stay
// out of the broker's go.mod. It holds tests only; run them with
//
//	cd broker/namesrv/gocheck && go test ./...
package gocheck
