// Package conf reads RocketMQ's configuration files (broker.conf,
// namesrv.conf): Java properties files of key=value lines.
//
// Keys are RocketMQ's own (brokerClusterName, flushDiskType, listenPort,
// ...), so that an existing broker.conf works unchanged. A key the program
// does not know is reported by Unused, for a warning, never an error: a
// broker.conf written for Java RocketMQ carries many keys Thrust ignores.
//
// Only the standard library's pure packages are imported; the caller reads
// the file.
package conf
