// Command mqbroker runs a Thrust broker: RocketMQ's mqbroker, reading the
// same broker.conf.
//
//	mqbroker -c broker.conf [-n 127.0.0.1:9876]
//	mqbroker -standalone        a name server and a broker in one process
//
// With -standalone it also runs a name server (on 127.0.0.1:9876 unless
// -namesrv-listen says otherwise) on a loop of its own, and the broker
// registers with it: the quickest way to a working RocketMQ endpoint.
//
// -cpuprofile FILE writes a CPU profile of the whole run, ending at
// shutdown (SIGTERM or SIGINT); mqbench -profile uses it.
package main
