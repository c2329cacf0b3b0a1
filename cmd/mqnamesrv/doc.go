// Command mqnamesrv runs a Thrust name server, the drop-in counterpart of
// RocketMQ's mqnamesrv: brokers register with it, clients ask it for routes.
//
// Usage:
//
//	mqnamesrv [-c namesrv.conf] [-p] [-bind 0.0.0.0] [-port N]
//
// The configuration file holds RocketMQ's namesrv.conf keys (listenPort,
// scanNotActiveBrokerInterval, orderMessageEnable, enableAllTopicList,
// kvConfigPath, ...); keys Thrust does not use are logged as warnings, not
// errors, so a namesrv.conf written for Java works. kvConfigPath defaults
// to ~/namesrv/kvConfig.json, as in Java. -p prints the resulting
// configuration and exits. Once serving, it prints "The Name Server boot
// success. serializeType=JSON" to standard output, as Java does, for
// scripts that wait for it; logs go to standard error. SIGINT or SIGTERM
// closes every connection and exits 0.
//
// It is thin wiring: package broker/namesrv is the name server, and
// broker/host/oshost the real host (event loop, TCP, files) it runs on. As
// a command it may use os, signals and goroutines; everything the name
// server does still runs on the one loop.
package main
