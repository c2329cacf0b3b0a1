package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/thrustmq/thrust/broker/client"
	"github.com/thrustmq/thrust/broker/host/oshost"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// verb is one mqadmin sub-command.
type verb struct {
	name, summary string
	run           func(a *admin, args []string) error
}

var verbs = []verb{
	{"clusterList", "list clusters and their brokers (-n)", clusterList},
	{"topicList", "list every topic the name server knows (-n)", topicList},
	{"topicRoute", "print a topic's route (-n -t)", topicRoute},
	{"topicStatus", "each queue's min and max offsets and last update (-n -t)", topicStatus},
	{"updateTopic", "create or update a topic (-n -t, -b ADDR or -c CLUSTER, -r -w -p)", updateTopic},
	{"deleteTopic", "delete a topic from a cluster's brokers and the name server (-n -t -c)", deleteTopic},
	{"updateSubGroup", "create or update a consumer group (-n -g, -b or -c, -q -r ...)", updateSubGroup},
	{"deleteSubGroup", "delete a consumer group (-n -g, -b or -c)", deleteSubGroup},
	{"consumerProgress", "a group's committed offsets beside the brokers' (-n -g [-t])", consumerProgress},
	{"brokerStatus", "a broker's runtime counters (-n -b)", brokerStatus},
	{"getBrokerConfig", "a broker's effective broker.conf (-n, -b or -c)", getBrokerConfig},
	{"queryMsgById", "show the message stored under an offset message id (-n -i)", queryMsgByID},
}

// errUsage marks a bad command line: the usage is printed, exit code 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	i := slices.IndexFunc(verbs, func(v verb) bool { return v.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "mqadmin: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	a := &admin{out: stdout, err: stderr}
	defer a.close()
	if err := verbs[i].run(a, args[1:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "mqadmin %s: %v\n", verbs[i].name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mqadmin <command> [flags]   (RocketMQ's mqadmin verbs and flags)")
	fmt.Fprintln(w, "commands:")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-18s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w, "-n defaults to $NAMESRV_ADDR, then 127.0.0.1:9876. mqadmin <command> -h lists its flags.")
}

// admin is a Thrust client on a loop of its own, called synchronously.
type admin struct {
	out, err io.Writer
	ns       string
	loop     *oshost.Loop
	c        *client.Client
}

const callTimeout = 10 * time.Second

// connect starts the client for name server ns.
func (a *admin) connect(ns string) error {
	if ns == "" {
		ns = os.Getenv("NAMESRV_ADDR")
	}
	if ns == "" {
		ns = "127.0.0.1:9876"
	}
	a.ns = strings.Split(ns, ";")[0]
	a.loop = oshost.NewLoop()
	go a.loop.Run()
	env := oshost.NewEnv(a.loop, oshost.Options{Log: slog.New(slog.DiscardHandler)})
	var err error
	a.loop.Do(func() {
		a.c, err = client.New(env, client.Config{NamesrvAddrs: strings.Split(ns, ";"), InstanceName: "mqadmin", RequestTimeout: callTimeout})
	})
	return err
}

func (a *admin) close() {
	if a.loop == nil {
		return
	}
	a.loop.Do(func() {
		if a.c != nil {
			a.c.Close()
		}
	})
	a.loop.Stop()
	<-a.loop.Done()
}

// call sends req to addr and waits for a SUCCESS answer.
func (a *admin) call(addr string, req *remoting.Command) (*remoting.Command, error) {
	type result struct {
		resp *remoting.Command
		err  error
	}
	ch := make(chan result, 1)
	a.loop.Do(func() { a.c.Invoke(addr, req, func(r *remoting.Command, err error) { ch <- result{r, err} }) })
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-time.After(callTimeout + time.Second):
		return nil, fmt.Errorf("%s to %s: no answer", remoting.RequestCode(req.Code), addr)
	}
}

func (a *admin) clusterInfo() (client.ClusterInfo, error) {
	resp, err := a.call(a.ns, remoting.NewRequest(remoting.GetBrokerClusterInfo))
	if err != nil {
		return client.ClusterInfo{}, err
	}
	return client.ParseClusterInfo(resp.Body)
}

func (a *admin) route(topic string) (client.Route, error) {
	resp, err := a.call(a.ns, remoting.NewRequest(remoting.GetRouteinfoByTopic, remoting.StrField("topic", topic)))
	if err != nil {
		return client.Route{}, err
	}
	return client.ParseRoute(resp.Body)
}

// masters returns the master address of every broker of cluster (or the
// one address given), sorted.
func (a *admin) masters(brokerAddr, cluster string) ([]string, error) {
	if brokerAddr != "" {
		return []string{brokerAddr}, nil
	}
	if cluster == "" {
		return nil, fmt.Errorf("%w: give -b brokerAddr or -c clusterName", errUsage)
	}
	ci, err := a.clusterInfo()
	if err != nil {
		return nil, err
	}
	names, ok := ci.Clusters[cluster]
	if !ok {
		return nil, fmt.Errorf("cluster %q is unknown to the name server", cluster)
	}
	var out []string
	for _, n := range names {
		if addr := ci.Brokers[n].MasterAddr(); addr != "" {
			out = append(out, addr)
		}
	}
	slices.Sort(out)
	return out, nil
}

// flags parses a verb's flags; -n is common to all.
type flags struct {
	*flag.FlagSet
	ns *string
}

func newFlags(a *admin, name string) flags {
	fs := flag.NewFlagSet("mqadmin "+name, flag.ContinueOnError)
	fs.SetOutput(a.err)
	return flags{fs, fs.String("n", "", "name server address(es), ';'-separated")}
}

func (f flags) parse(a *admin, args []string, required ...string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	for _, r := range required {
		if f.Lookup(r).Value.String() == "" {
			fmt.Fprintf(a.err, "mqadmin: -%s is required\n", r)
			f.Usage()
			return errUsage
		}
	}
	return a.connect(*f.ns)
}

func table(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func clusterList(a *admin, args []string) error {
	f := newFlags(a, "clusterList")
	if err := f.parse(a, args); err != nil {
		return err
	}
	ci, err := a.clusterInfo()
	if err != nil {
		return err
	}
	rows := [][]string{{"#Cluster Name", "#Broker Name", "#BID", "#Addr"}}
	for _, cl := range slices.Sorted(func(yield func(string) bool) {
		for k := range ci.Clusters {
			if !yield(k) {
				return
			}
		}
	}) {
		names := slices.Clone(ci.Clusters[cl])
		slices.Sort(names)
		for _, n := range names {
			bd := ci.Brokers[n]
			for _, id := range bd.IDs() {
				rows = append(rows, []string{cl, n, strconv.FormatInt(id, 10), bd.BrokerAddrs[id]})
			}
		}
	}
	table(a.out, rows)
	return nil
}

func topicList(a *admin, args []string) error {
	f := newFlags(a, "topicList")
	if err := f.parse(a, args); err != nil {
		return err
	}
	resp, err := a.call(a.ns, remoting.NewRequest(remoting.GetAllTopicListFromNameserver))
	if err != nil {
		return err
	}
	var list struct {
		TopicList []string `json:"topicList"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return fmt.Errorf("topic list: %w", err)
	}
	slices.Sort(list.TopicList)
	for _, t := range list.TopicList {
		fmt.Fprintln(a.out, t)
	}
	return nil
}

func topicRoute(a *admin, args []string) error {
	f := newFlags(a, "topicRoute")
	topic := f.String("t", "", "topic")
	if err := f.parse(a, args, "t"); err != nil {
		return err
	}
	r, err := a.route(*topic)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Fprintln(a.out, string(out))
	return nil
}

func topicStatus(a *admin, args []string) error {
	f := newFlags(a, "topicStatus")
	topic := f.String("t", "", "topic")
	if err := f.parse(a, args, "t"); err != nil {
		return err
	}
	r, err := a.route(*topic)
	if err != nil {
		return err
	}
	rows := [][]string{{"#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated"}}
	for _, bd := range r.BrokerDatas {
		resp, err := a.call(bd.MasterAddr(), remoting.NewRequest(remoting.GetTopicStatsInfo, remoting.StrField("topic", *topic)))
		if err != nil {
			return err
		}
		t, err := client.ParseMQTable(resp.Body, "offsetTable")
		if err != nil {
			return err
		}
		for _, mq := range sortedQueues(t) {
			var to struct{ MinOffset, MaxOffset, LastUpdateTimestamp int64 }
			if err := json.Unmarshal(t[mq], &to); err != nil {
				return err
			}
			rows = append(rows, []string{mq.BrokerName, strconv.Itoa(mq.QueueID), strconv.FormatInt(to.MinOffset, 10),
				strconv.FormatInt(to.MaxOffset, 10), millisTime(to.LastUpdateTimestamp)})
		}
	}
	table(a.out, rows)
	return nil
}

func sortedQueues[V any](m map[client.MessageQueue]V) []client.MessageQueue {
	out := make([]client.MessageQueue, 0, len(m))
	for mq := range m {
		out = append(out, mq)
	}
	slices.SortFunc(out, func(x, y client.MessageQueue) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		if c := strings.Compare(x.BrokerName, y.BrokerName); c != 0 {
			return c
		}
		return x.QueueID - y.QueueID
	})
	return out
}

func millisTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000")
}

func updateTopic(a *admin, args []string) error {
	f := newFlags(a, "updateTopic")
	topic := f.String("t", "", "topic")
	broker := f.String("b", "", "broker address (or -c)")
	cluster := f.String("c", "", "cluster name: every master of it (or -b)")
	read := f.Int("r", 8, "read queue count")
	write := f.Int("w", 8, "write queue count")
	perm := f.Int("p", 6, "permission: 2 write, 4 read, 6 both")
	order := f.Bool("o", false, "ordered topic")
	if err := f.parse(a, args, "t"); err != nil {
		return err
	}
	if err := message.ValidateTopic(*topic); err != nil {
		return err
	}
	addrs, err := a.masters(*broker, *cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.UpdateAndCreateTopic,
			remoting.StrField("topic", *topic),
			remoting.StrField("defaultTopic", message.AutoCreateTopicKey),
			remoting.IntField("readQueueNums", int64(*read)),
			remoting.IntField("writeQueueNums", int64(*write)),
			remoting.IntField("perm", int64(*perm)),
			remoting.StrField("topicFilterType", "SINGLE_TAG"),
			remoting.IntField("topicSysFlag", 0),
			remoting.BoolField("order", *order),
		)
		if _, err := a.call(addr, req); err != nil {
			return err
		}
		fmt.Fprintf(a.out, "create topic to %s success.\n", addr)
	}
	return nil
}

func deleteTopic(a *admin, args []string) error {
	f := newFlags(a, "deleteTopic")
	topic := f.String("t", "", "topic")
	cluster := f.String("c", "", "cluster name")
	if err := f.parse(a, args, "t", "c"); err != nil {
		return err
	}
	addrs, err := a.masters("", *cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if _, err := a.call(addr, remoting.NewRequest(remoting.DeleteTopicInBroker, remoting.StrField("topic", *topic))); err != nil {
			return err
		}
	}
	if _, err := a.call(a.ns, remoting.NewRequest(remoting.DeleteTopicInNamesrv, remoting.StrField("topic", *topic))); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "delete topic [%s] from cluster [%s] success.\n", *topic, *cluster)
	return nil
}

func updateSubGroup(a *admin, args []string) error {
	f := newFlags(a, "updateSubGroup")
	group := f.String("g", "", "consumer group")
	broker := f.String("b", "", "broker address (or -c)")
	cluster := f.String("c", "", "cluster name: every master of it (or -b)")
	consume := f.Bool("s", true, "consume enable")
	fromMin := f.Bool("m", false, "consume from min enable")
	broadcast := f.Bool("d", true, "broadcast consume enable")
	retryQueues := f.Int("q", 1, "retry queue count")
	retryMax := f.Int("r", 16, "retry max times")
	notify := f.Bool("a", true, "notify consumer ids changed enable")
	if err := f.parse(a, args, "g"); err != nil {
		return err
	}
	if err := message.ValidateGroup(*group); err != nil {
		return err
	}
	addrs, err := a.masters(*broker, *cluster)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"groupName": *group, "consumeEnable": *consume, "consumeFromMinEnable": *fromMin,
		"consumeBroadcastEnable": *broadcast, "retryQueueNums": *retryQueues, "retryMaxTimes": *retryMax,
		"brokerId": 0, "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": *notify,
	})
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup)
		req.Body = body
		if _, err := a.call(addr, req); err != nil {
			return err
		}
		fmt.Fprintf(a.out, "create subscription group to %s success.\n", addr)
	}
	return nil
}

func deleteSubGroup(a *admin, args []string) error {
	f := newFlags(a, "deleteSubGroup")
	group := f.String("g", "", "consumer group")
	broker := f.String("b", "", "broker address (or -c)")
	cluster := f.String("c", "", "cluster name (or -b)")
	clean := f.Bool("r", false, "also remove the group's committed offsets")
	if err := f.parse(a, args, "g"); err != nil {
		return err
	}
	addrs, err := a.masters(*broker, *cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.DeleteSubscriptionGroup, remoting.StrField("groupName", *group),
			remoting.BoolField("cleanOffset", *clean))
		if _, err := a.call(addr, req); err != nil {
			return err
		}
		fmt.Fprintf(a.out, "delete subscription group [%s] from broker [%s] success.\n", *group, addr)
	}
	return nil
}

func consumerProgress(a *admin, args []string) error {
	f := newFlags(a, "consumerProgress")
	group := f.String("g", "", "consumer group")
	topic := f.String("t", "", "topic (default: every topic the group committed offsets for)")
	if err := f.parse(a, args, "g"); err != nil {
		return err
	}
	ci, err := a.clusterInfo()
	if err != nil {
		return err
	}
	rows := [][]string{{"#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime"}}
	var total int64
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range ci.Brokers {
			if !yield(k) {
				return
			}
		}
	}) {
		addr := ci.Brokers[name].MasterAddr()
		if addr == "" {
			continue
		}
		fields := []remoting.Field{remoting.StrField("consumerGroup", *group)}
		if *topic != "" {
			fields = append(fields, remoting.StrField("topic", *topic))
		}
		resp, err := a.call(addr, remoting.NewRequest(remoting.GetConsumeStats, fields...))
		if err != nil {
			return err
		}
		t, err := client.ParseMQTable(resp.Body, "offsetTable")
		if err != nil {
			return err
		}
		for _, mq := range sortedQueues(t) {
			var os struct{ BrokerOffset, ConsumerOffset, LastTimestamp int64 }
			if err := json.Unmarshal(t[mq], &os); err != nil {
				return err
			}
			diff := os.BrokerOffset - os.ConsumerOffset
			total += diff
			rows = append(rows, []string{mq.Topic, mq.BrokerName, strconv.Itoa(mq.QueueID), strconv.FormatInt(os.BrokerOffset, 10),
				strconv.FormatInt(os.ConsumerOffset, 10), strconv.FormatInt(diff, 10), millisTime(os.LastTimestamp)})
		}
	}
	table(a.out, rows)
	fmt.Fprintf(a.out, "\nDiff Total: %d\n", total)
	return nil
}

func brokerStatus(a *admin, args []string) error {
	f := newFlags(a, "brokerStatus")
	broker := f.String("b", "", "broker address")
	if err := f.parse(a, args, "b"); err != nil {
		return err
	}
	resp, err := a.call(*broker, remoting.NewRequest(remoting.GetBrokerRuntimeInfo))
	if err != nil {
		return err
	}
	var info struct {
		Table map[string]string `json:"table"`
	}
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		return fmt.Errorf("runtime info: %w", err)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range info.Table {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(a.out, "%-32s: %s\n", k, info.Table[k])
	}
	return nil
}

func getBrokerConfig(a *admin, args []string) error {
	f := newFlags(a, "getBrokerConfig")
	broker := f.String("b", "", "broker address (or -c)")
	cluster := f.String("c", "", "cluster name (or -b)")
	if err := f.parse(a, args); err != nil {
		return err
	}
	addrs, err := a.masters(*broker, *cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		resp, err := a.call(addr, remoting.NewRequest(remoting.GetBrokerConfig))
		if err != nil {
			return err
		}
		fmt.Fprintf(a.out, "============%s============\n%s", addr, resp.Body)
	}
	return nil
}

func queryMsgByID(a *admin, args []string) error {
	f := newFlags(a, "queryMsgById")
	id := f.String("i", "", "offset message id (the send result's offsetMsgId)")
	if err := f.parse(a, args, "i"); err != nil {
		return err
	}
	host, off, err := message.ParseOffsetMsgID(*id)
	if err != nil {
		return err
	}
	resp, err := a.call(host.String(), remoting.NewRequest(remoting.ViewMessageByID, remoting.IntField("offset", off)))
	if err != nil {
		return err
	}
	r, _, err := message.Decode(resp.Body)
	if err != nil {
		return fmt.Errorf("the broker answered a record that does not decode: %w", err)
	}
	p := r.ParsedProperties()
	rows := [][]string{
		{"OffsetID:", *id},
		{"Topic:", r.Topic},
		{"Tags:", propOf(p, message.PropertyTags)},
		{"Keys:", propOf(p, message.PropertyKeys)},
		{"Queue ID:", strconv.Itoa(int(r.QueueID))},
		{"Queue Offset:", strconv.FormatInt(r.QueueOffset, 10)},
		{"CommitLog Offset:", strconv.FormatInt(r.PhysicalOffset, 10)},
		{"Reconsume Times:", strconv.Itoa(int(r.ReconsumeTimes))},
		{"Born Timestamp:", millisTime(r.BornTimestamp)},
		{"Store Timestamp:", millisTime(r.StoreTimestamp)},
		{"Born Host:", r.BornHost.String()},
		{"Store Host:", r.StoreHost.String()},
		{"System Flag:", strconv.Itoa(int(r.SysFlag))},
		{"Properties:", strings.NewReplacer("\x01", "=", "\x02", " ").Replace(string(r.Properties))},
		{"Message Body:", string(r.Body)},
	}
	table(a.out, rows)
	return nil
}

func propOf(p message.Properties, k string) string {
	v, _ := p.Get(k)
	return v
}
