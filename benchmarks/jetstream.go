package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// NATS JetStream as a peer. Its rows run the same load through the same
// generator: one connection per producer with the same in-flight window
// (publishes awaiting their JetStream acknowledgement), one per consumer,
// the same payload; a file-backed stream per topic. Like is compared with
// like: sync_interval "always" (every write is followed by a sync before
// the acknowledgement) beside Thrust's SYNC_FLUSH, the default (a sync
// every two minutes) beside ASYNC_FLUSH.

// NATSServerVersion is the nats-server the install script installs.
const NATSServerVersion = "v2.15.2"

// FindNATSServer returns the nats-server to run: explicit when given,
// else one on PATH or in $(go env GOPATH)/bin; "" when there is none.
func FindNATSServer(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.SplitList(gp)...)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, filepath.SplitList(strings.TrimSpace(string(out)))...)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "bin", "nats-server")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// NATSServerVersionOf asks a nats-server binary for its version.
func NATSServerVersionOf(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// NATSServer is a nats-server process with JetStream on.
type NATSServer struct {
	*Process
	Addr string
}

// StartNATSServer starts binary on 127.0.0.1 and a free port, JetStream
// storing under a fresh directory in parent, with sync_interval as given
// ("default" leaves the server's two minutes).
func StartNATSServer(binary, parent, syncInterval string) (*NATSServer, error) {
	dir, err := os.MkdirTemp(parent, "mqbench-nats-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var js strings.Builder
	fmt.Fprintf(&js, "  store_dir: %q\n", filepath.Join(dir, "jetstream"))
	if syncInterval != "" && syncInterval != "default" {
		fmt.Fprintf(&js, "  sync_interval: %s\n", syncInterval)
	}
	conf := fmt.Sprintf("listen: \"127.0.0.1:%d\"\nmax_payload: 8MB\njetstream {\n%s}\n", port, js.String())
	confPath := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess("nats-server", dir, binary, []string{"-c", confPath}, func(line string) bool {
		return strings.Contains(line, "Server is ready")
	}, 30*time.Second)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &NATSServer{Process: p, Addr: fmt.Sprintf("127.0.0.1:%d", port)}, nil
}

// jsAPIError is the error JetStream's API and publish acknowledgements
// carry.
type jsAPIError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func jsRequest(c *natsConn, subject string, req any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := c.request(subject, body, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	var r struct {
		Error *jsAPIError `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return fmt.Errorf("%s: %w (%q)", subject, err, truncate(resp, 200))
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %d/%d %s", subject, r.Error.Code, r.Error.ErrCode, r.Error.Description)
	}
	return nil
}

// jsCluster is one run's JetStream clients.
type jsCluster struct {
	addr      string
	tag       string
	msgSize   int
	admin     *natsConn
	streams   []string
	subjects  []string // per topic: "<prefix>.t<i>"
	queues    int
	producers []*jsProducer
	consumers []*natsConn
}

// openJetStream creates a stream per topic, a push consumer per
// subscription with consumers connections sharing it (a queue group), and
// the producers' connections.
func openJetStream(addr string, topics, queues, producers, consumers, subscriptions, msgSize int, rec *Recorder, tag string) (*jsCluster, error) {
	jc := &jsCluster{queues: queues, addr: addr, tag: tag, msgSize: msgSize}
	ok := false
	defer func() {
		if !ok {
			jc.Close()
		}
	}()
	var err error
	if jc.admin, err = natsDial(addr, 10*time.Second); err != nil {
		return nil, err
	}
	if !jc.admin.info.JetStream {
		return nil, fmt.Errorf("nats-server at %s has JetStream off", addr)
	}
	for t := 0; t < topics; t++ {
		stream := fmt.Sprintf("bench_%s_t%d", tag, t)
		subject := fmt.Sprintf("bench.%s.t%d", tag, t)
		if err := jsRequest(jc.admin, "$JS.API.STREAM.CREATE."+stream, map[string]any{
			"name": stream, "subjects": []string{subject + ".>"}, "storage": "file",
			"retention": "limits", "discard": "old", "num_replicas": 1,
		}); err != nil {
			return nil, err
		}
		jc.streams = append(jc.streams, stream)
		jc.subjects = append(jc.subjects, subject)
	}
	if err := jc.startConsumers(consumers, subscriptions, rec); err != nil {
		return nil, err
	}
	for i := 0; i < producers; i++ {
		c, err := natsDial(addr, 10*time.Second)
		if err != nil {
			return nil, err
		}
		jc.producers = append(jc.producers, &jsProducer{c: c, jc: jc})
	}
	ok = true
	return jc, nil
}

// startConsumers creates a push consumer per subscription and stream,
// delivering from the first message, with consumers connections sharing
// it (a queue group), each subscribed before it returns.
func (jc *jsCluster) startConsumers(consumers, subscriptions int, rec *Recorder) error {
	// The server pushes up to max_ack_pending messages ahead of the
	// acknowledgements; past its per-connection pending limit (64 MB) it
	// drops them as a slow consumer's and redelivers after ack_wait, so
	// the window is bounded in bytes too (32 MB).
	ackPending := min(20000, max(64, (32<<20)/max(jc.msgSize, 1)))
	for s := 0; s < subscriptions && consumers > 0; s++ {
		deliver := fmt.Sprintf("bench.deliver.%s.s%d", jc.tag, s)
		group := fmt.Sprintf("g%d", s)
		for t, stream := range jc.streams {
			name := fmt.Sprintf("sub%d", s)
			cfg := map[string]any{
				"name": name, "durable_name": name, "deliver_subject": deliver + "." + strconv.Itoa(t),
				"deliver_policy": "all", "ack_policy": "all", "max_ack_pending": ackPending,
				"replay_policy": "instant", "max_deliver": -1, "ack_wait": int64(30 * time.Second),
			}
			if consumers > 1 {
				cfg["deliver_group"] = group
			}
			if err := jsRequest(jc.admin, fmt.Sprintf("$JS.API.CONSUMER.CREATE.%s.%s", stream, name), map[string]any{
				"stream_name": stream, "config": cfg,
			}); err != nil {
				return err
			}
		}
		for i := 0; i < consumers; i++ {
			c, err := natsDial(jc.addr, 10*time.Second)
			if err != nil {
				return err
			}
			jc.consumers = append(jc.consumers, c)
			cons := newJSConsumer(c, rec.Shard())
			queue := ""
			if consumers > 1 {
				queue = group
			}
			// One subscription per stream's deliver subject: the server
			// notices a push consumer's interest on its literal subject.
			for t := range jc.streams {
				if _, err := c.subscribe(deliver+"."+strconv.Itoa(t), queue, cons.handle); err != nil {
					return err
				}
			}
			if err := c.ping(10 * time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsConsumer records deliveries and acknowledges (AckAll) the last one of
// every socket read, as a RocketMQ consumer commits an offset for many
// messages. Its fields are the connection's reader goroutine's.
type jsConsumer struct {
	c       *natsConn
	sh      *Shard
	lastAck string
	acked   string
}

func newJSConsumer(c *natsConn, sh *Shard) *jsConsumer {
	jc := &jsConsumer{c: c, sh: sh}
	f := jc.ack
	c.onIdle.Store(&f)
	return jc
}

func (jc *jsConsumer) handle(m *natsMsg) {
	if m.Status != 0 { // heartbeats and flow control: none asked for
		return
	}
	if intended, sent, ok := BodyTimes(m.Data); ok {
		jc.sh.Received(intended, sent, jc.sh.r.Now(), len(m.Data))
	}
	if m.Reply != "" {
		jc.lastAck = m.Reply
	}
}

// ack runs on the reader goroutine between reads.
func (jc *jsConsumer) ack() {
	if jc.lastAck != "" && jc.lastAck != jc.acked {
		jc.c.publish(jc.lastAck, "", nil)
		jc.acked = jc.lastAck
	}
}

// jsProducer is a Sender over one connection: every message is a publish
// with a reply inbox, acknowledged by the stream's {"stream":..,"seq":..}.
type jsProducer struct {
	c  *natsConn
	jc *jsCluster
	rr atomic.Uint64
}

var jsAckError = []byte(`"error"`)

// Send implements Sender.
func (p *jsProducer) Send(reqs []*Request) {
	for _, r := range reqs {
		q := int(p.rr.Add(1) % uint64(p.jc.queues))
		if r.Key != "" {
			q = QueueOf(r.Key, p.jc.queues)
		}
		subject := p.jc.subjects[r.Topic] + ".q" + strconv.Itoa(q)
		r.Stamp()
		p.c.requestAsync(subject, r.Bodies[0], 10*time.Second, func(m *natsMsg, err error) {
			r.Complete(jsAckCode(m, err))
		})
	}
}

// jsAckCode classifies a publish acknowledgement.
func jsAckCode(m *natsMsg, err error) string {
	switch {
	case err == errNATSTimeout:
		return "timeout"
	case err != nil:
		return "connection closed"
	case m.Status == 503:
		return "no responders"
	case m.Status != 0:
		return "status " + strconv.Itoa(m.Status)
	case bytes.Contains(m.Data, jsAckError):
		var r struct {
			Error jsAPIError `json:"error"`
		}
		if json.Unmarshal(m.Data, &r) == nil && r.Error.ErrCode != 0 {
			return fmt.Sprintf("jetstream %d", r.Error.ErrCode)
		}
		return "jetstream error"
	}
	return ""
}

// Senders are the producers as Senders.
func (jc *jsCluster) Senders() []Sender {
	out := make([]Sender, len(jc.producers))
	for i, p := range jc.producers {
		out[i] = p
	}
	return out
}

// StreamState reports the streams' message and byte counts, for the
// run's counters.
func (jc *jsCluster) StreamState() map[string]string {
	var msgs, bytes uint64
	for _, s := range jc.streams {
		resp, err := jc.admin.request("$JS.API.STREAM.INFO."+s, nil, 5*time.Second)
		if err != nil {
			continue
		}
		var info struct {
			State struct {
				Messages uint64 `json:"messages"`
				Bytes    uint64 `json:"bytes"`
			} `json:"state"`
		}
		if json.Unmarshal(resp, &info) == nil {
			msgs += info.State.Messages
			bytes += info.State.Bytes
		}
	}
	return map[string]string{"streamMessages": strconv.FormatUint(msgs, 10), "streamBytes": strconv.FormatUint(bytes, 10)}
}

// Close closes every connection.
func (jc *jsCluster) Close() {
	for _, p := range jc.producers {
		p.c.Close()
	}
	for _, c := range jc.consumers {
		c.Close()
	}
	if jc.admin != nil {
		jc.admin.Close()
	}
}
