// Command mqadmin administers Thrust (and RocketMQ) clusters with
// RocketMQ's mqadmin verbs and flags: clusterList, topicList, topicRoute,
// topicStatus, updateTopic, deleteTopic, updateSubGroup, deleteSubGroup,
// consumerProgress, brokerStatus, getBrokerConfig and queryMsgById. It
// speaks the remoting protocol through Thrust's client, so it works
// against a Java name server and brokers too, whose fastjson bodies (maps
// keyed by MessageQueue objects, bare integer keys) it reads.
//
//	mqadmin updateTopic -n 127.0.0.1:9876 -c DefaultCluster -t Orders -r 8 -w 8
//	mqadmin consumerProgress -n 127.0.0.1:9876 -g order-service
//
// Exit codes: 0 success, 1 the request failed, 2 a bad command line.
package main
