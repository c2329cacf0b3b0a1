// Package gocheck cross-checks package broker/message against the official
// RocketMQ Go client (github.com/apache/rocketmq-client-go/v2), whose
// decoder is what a PULL_MESSAGE body must satisfy byte for byte.
//
// It is a nested module so that the client and its dependency graph stay
// out of the broker's go.mod. It holds tests only; run them with
//
//	cd broker/message/gocheck && go test ./...
package gocheck
