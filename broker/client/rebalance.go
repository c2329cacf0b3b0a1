package client

import (
	"encoding/json"
	"slices"
)

// parseConsumerList decodes GET_CONSUMER_LIST_BY_GROUP's body,
// {"consumerIdList":["10.0.0.1@1234",...]}, and returns the ids sorted and
// without duplicates: every member of a group must see the same list.
func parseConsumerList(body []byte) ([]string, error) {
	var v struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	ids := slices.Clone(v.ConsumerIDList)
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// AllocateByAveragely is RocketMQ's default queue allocation (§6.5 of the
// protocol notes): with mqAll sorted by (topic, broker, queue id) and cidAll
// sorted, client i of k gets a consecutive block of the n queues, the first
// n mod k clients one queue more than the others; when n <= k, client i gets
// queue i and clients past n get none. A client not in cidAll gets nothing.
// Every member computes the same split from the same lists, so no queue is
// assigned twice and none is orphaned. The inputs are not modified; the
// result is in mqAll's order.
func AllocateByAveragely(clientID string, mqAll []MessageQueue, cidAll []string) []MessageQueue {
	index := slices.Index(cidAll, clientID)
	if index < 0 || len(mqAll) == 0 {
		return nil
	}
	n, k := len(mqAll), len(cidAll)
	mod := n % k
	size := 1
	if n > k {
		size = n / k
		if index < mod {
			size++
		}
	}
	start := index*size + mod
	if mod > 0 && index < mod {
		start = index * size
	}
	count := min(size, n-start)
	if count <= 0 {
		return nil
	}
	return slices.Clone(mqAll[start : start+count])
}
