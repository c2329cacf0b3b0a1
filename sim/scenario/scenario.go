package scenario

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker"
	"github.com/thrustmq/thrust/broker/client"
	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/store"
	"github.com/thrustmq/thrust/faults"
	"github.com/thrustmq/thrust/linearizability"
	"github.com/thrustmq/thrust/sim"
	"github.com/thrustmq/thrust/sim/cluster"
	"github.com/thrustmq/thrust/workloads"
)

// Options select a run. Everything else comes from the seed.
type Options struct {
	Seed uint64
	// Bug names a planted bug (faults.Bugs) to switch on.
	Bug string
	// Trace and Log, if set, receive the world's trace and the nodes' logs.
	Trace io.Writer
	Log   io.Writer
	// LogLevel of the nodes' loggers; nil means Info.
	LogLevel slog.Leveler
	// Safety overrides the drawn safety-phase length when positive.
	Safety time.Duration
}

// Outcome classifies a run for exit codes.
type Outcome int

const (
	Pass Outcome = iota
	// Crash: production code or the harness panicked.
	Crash
	// Liveness: the system did not converge after faults stopped.
	Liveness
	// Correctness: a checker found a violation.
	Correctness
)

func (o Outcome) String() string {
	return [...]string{"pass", "crash", "liveness", "correctness"}[o]
}

// Result is what one run produced.
type Result struct {
	Seed    uint64
	Bug     string
	Config  Config
	Digest  string
	Virtual time.Duration
	History *workloads.History
	Report  linearizability.Report
	// Probes count the dangerous states the run reached.
	Probes  map[string]int
	Outcome Outcome
	// Failure says, for a run that did not pass, what went wrong first.
	Failure string
	// Errors are nodes that failed to start (recovery errors).
	Errors []error

	checkOpts linearizability.Options
	startErr  error
}

// Probe names: dangerous states a sweep must show it reached.
const (
	ProbeCrashBetweenAppendAndAck = "crash-between-append-and-ack"
	ProbePowerLossLostUnsynced    = "power-loss-lost-unsynced-data"
	ProbePartitionedLongPoll      = "partitioned-long-poll"
	ProbeRecoveredTornTail        = "recovered-torn-tail"
	ProbeQuarantined              = "quarantined-corrupt-record"
	ProbeFencedStore              = "fenced-store-restarted"
	ProbeClockSteppedBack         = "clock-stepped-back"
	ProbeConsumerRestarted        = "consumer-restarted"
	ProbeStartFailedRetried       = "broker-start-failed-retried"
	ProbeCrashedAtSite            = "crashed-between-append-and-sync"
	// ProbeRolledOntoWarmSegment: a broker's last incarnation rolled its
	// commit log onto a segment made ahead of need (warmMapedFileEnable).
	ProbeRolledOntoWarmSegment = "rolled-onto-warm-segment"
)

// run holds one run's state. Everything in it runs on the world's single
// goroutine.
type run struct {
	opts    Options
	cfg     Config
	w       *sim.World
	cl      *cluster.Cluster
	hist    *workloads.History
	rec     *workloads.Recorder
	probes  map[string]int
	prods   []*workloads.Producer
	members [][]*member
	admin   *client.Client
	topicUp bool
	inLive  bool

	// converged's incremental view of the history.
	nextConvergeCheck time.Duration
	scanned           int
	committed         map[string]int64
	delivered         map[string]int64
}

// member is one consumer-group member: its host and current process.
type member struct {
	group GroupConfig
	idx   int
	host  *sim.Host
	env   host.Env
	c     *client.Client
	cons  *workloads.Consumer
	up    bool
}

// Simulate runs one seed's world; Check judges it.
func Simulate(opts Options) (res Result) {
	var bug *faults.Bug
	if opts.Bug != "" {
		b, ok := faults.LookupBug(opts.Bug)
		if !ok {
			return Result{Seed: opts.Seed, Bug: opts.Bug, Outcome: Crash, Failure: "unknown bug " + opts.Bug}
		}
		bug = &b
	}
	simOpts := sim.Options{Trace: opts.Trace, Log: opts.Log, LogLevel: opts.LogLevel}
	w := sim.NewWorld(opts.Seed, simOpts)
	cfg := draw(w.Stream("scenario/config"), func(option string) *rand.Rand { return w.Stream("scenario/config/" + option) }, bug)
	if opts.Safety > 0 {
		cfg.Safety = opts.Safety
	}
	r := &run{opts: opts, cfg: cfg, w: w, hist: workloads.NewHistory(expectedOps(cfg)), probes: map[string]int{},
		committed: map[string]int64{}, delivered: map[string]int64{}}
	r.rec = &workloads.Recorder{H: r.hist, Now: w.Now}
	res = Result{Seed: opts.Seed, Bug: opts.Bug, Config: cfg, History: r.hist, Probes: r.probes}

	defer func() {
		if p := recover(); p != nil {
			res.Outcome = Crash
			res.Failure = fmt.Sprintf("panic at %v: %v\n%s", w.Now(), p, debug.Stack())
			res.Digest = w.Digest()
			res.Virtual = w.Now()
		}
	}()
	if bug != nil {
		// Every host's site fires; the simulator's own bug is a world switch
		// under the same name.
		w.SetFault(bug.Site, 1)
	}
	if cfg.CrashAfterAppend > 0 {
		w.SetFault(store.SiteCrashAfterAppend, cfg.CrashAfterAppend)
	}
	w.OnSiteCrash = func(h *sim.Host, site string) {
		// A broker died at a fault site inside its own code: the harness
		// records it as the process crash it is and restarts it.
		if b := r.cl.Broker(h.Name()); b != nil {
			r.probes[ProbeCrashedAtSite]++
			r.fault(string(faults.ProcessCrash), b.Name)
			b.Broker = nil
			r.w.Schedule(time.Second, func() { r.restartBroker(b) })
		}
	}
	r.setup()
	r.safety()
	r.liveness()
	for _, b := range r.cl.Brokers {
		if b.Broker != nil && b.Broker.Store().Stats().SegmentsPrepared > 0 {
			r.probes[ProbeRolledOntoWarmSegment]++ // by the last incarnation
		}
	}
	res.Digest = w.Digest()
	res.Virtual = w.Now()
	res.Errors = r.cl.Errors
	res.checkOpts = r.checkOptions()
	for _, b := range r.cl.Brokers {
		if b.StartErr != nil {
			res.startErr = b.StartErr
		}
	}
	return res
}

// Run simulates one seed and checks its history.
func Run(opts Options) Result {
	res := Simulate(opts)
	res.Check()
	return res
}

// Check runs the checkers over the history and sets the outcome. It runs
// outside the simulated world (tools time it apart from the simulation).
func (res *Result) Check() {
	if res.Outcome == Crash || res.History == nil {
		return
	}
	res.Report = linearizability.Check(res.History.Ops(), res.checkOpts)
	switch {
	case res.startErr != nil:
		// Faults were off for the last start: a store that cannot be
		// opened then is a finding.
		res.Outcome, res.Failure = Correctness, fmt.Sprintf("a broker failed to start with faults off: %v", res.startErr)
	case res.Report.Outcome() == linearizability.Correctness:
		res.Outcome, res.Failure = Correctness, firstViolation(res.Report, linearizability.Correctness)
	case res.Report.Outcome() == linearizability.Liveness:
		res.Outcome, res.Failure = Liveness, firstViolation(res.Report, linearizability.Liveness)
	case res.Report.Outcome() != 0:
		res.Outcome, res.Failure = Correctness, firstViolation(res.Report, res.Report.Outcome())
	}
}

func firstViolation(rep linearizability.Report, k linearizability.Kind) string {
	for _, v := range rep.Violations {
		if v.Kind == k {
			return v.String()
		}
	}
	return ""
}

func (r *run) checkOptions() linearizability.Options {
	o := linearizability.Options{FlushDiskType: map[string]string{}, OffsetPersistWindow: time.Nanosecond}
	for _, b := range r.cl.Brokers {
		o.FlushDiskType[b.Name] = r.cfg.FlushDiskType.String()
	}
	for _, g := range r.cfg.Groups {
		if g.Broadcast {
			o.BroadcastGroups = append(o.BroadcastGroups, g.Name)
		}
	}
	return o
}

func (r *run) fault(kind, node string) {
	now := r.w.Now()
	r.hist.Add(workloads.Op{Kind: workloads.OpFault, Fault: kind, Node: node, Invoke: now, Complete: now,
		FlushDiskType: r.cfg.FlushDiskType.String()})
}

// setup builds the cluster and starts the workload.
func (r *run) setup() {
	cfg := r.cfg
	disk := sim.DefaultDiskOptions()
	disk.SyncLatency = sim.Dist{Min: cfg.SyncLatency / 2, Max: cfg.SyncLatency * 3 / 2, TailProb: 0.01, TailMax: 20 * cfg.SyncLatency}
	disk.Faults.SyncEIO = cfg.DiskEIO
	clients := 1 + cfg.Producers
	for _, g := range cfg.Groups {
		clients += g.Members
	}
	r.cl = cluster.New(r.w, cluster.Options{
		Brokers: cfg.Brokers, Clients: clients, Disk: &disk, MaxClockSkew: cfg.MaxClockSkew,
		Broker: func(i int, bc *broker.Config) {
			bc.Store.FlushDiskType = cfg.FlushDiskType
			bc.Store.WritePath = cfg.WritePath
			bc.Store.MappedFileSizeCommitLog = cfg.SegmentBytes
			bc.Store.WarmMappedFile = cfg.WarmMappedFile
			bc.Store.GroupCommitInterval = cfg.GroupCommitInterval
			// Retention must not race the checkers: nothing expires in a run.
			bc.Store.FileReservedTime = 1000 * time.Hour
			bc.Store.DeleteWhen = 99
		},
	})
	r.cl.OnBrokerStarted = r.brokerStarted
	r.cl.Start()

	// The admin client creates the topic on every broker, then the
	// consumers and producers start.
	admin := r.cl.Clients[0]
	r.onHost(admin, func(env host.Env) {
		c := r.newClient(env, admin, "admin")
		r.admin = c
		created := 0
		for _, b := range r.cl.Brokers {
			var try func()
			try = func() {
				c.CreateTopic(b.Addr(), cfg.Topic, cfg.Queues, 6, func(err error) {
					if err != nil {
						env.Clock.AfterFunc(500*time.Millisecond, try)
						return
					}
					if created++; created == len(r.cl.Brokers) {
						r.topicUp = true
					}
				})
			}
			env.Clock.AfterFunc(200*time.Millisecond, try)
		}
	})
	hosts := r.cl.Clients[1:]
	for _, g := range cfg.Groups {
		var ms []*member
		for i := range g.Members {
			m := &member{group: g, idx: i, host: hosts[0]}
			hosts = hosts[1:]
			ms = append(ms, m)
		}
		r.members = append(r.members, ms)
	}
	prodHosts := hosts
	r.w.Schedule(time.Second, func() {
		for _, ms := range r.members {
			for _, m := range ms {
				r.startMember(m)
			}
		}
	})
	// Producers start once the topic exists everywhere: a send that beat
	// the admin would auto-create it with the TBW102 default of 4 queues,
	// and the admin's later create would strand any queue beyond cfg.Queues.
	var startProducers func()
	startProducers = func() {
		if !r.topicUp {
			r.w.Schedule(100*time.Millisecond, startProducers)
			return
		}
		for i, h := range prodHosts {
			name := "p" + strconv.Itoa(i)
			r.onHost(h, func(env host.Env) {
				c := r.newClient(env, h, name)
				r.prods = append(r.prods, workloads.StartProducer(env, c, r.rec, workloads.ProducerSpec{
					Name: name, Topic: cfg.Topic, Rate: cfg.Rate, Size: cfg.MsgBytes, Tags: []string{"a", "b", "c"},
				}))
			})
		}
	}
	r.w.Schedule(2*time.Second, startProducers)
}

// expectedOps estimates a run's history length: a send per message, a
// delivery per message per clustering group and per broadcasting member,
// and a margin for commits, faults and observations. Sizing the history up
// front spares the copies of a slice that doubles a dozen times.
func expectedOps(cfg Config) int {
	sending := max(cfg.Safety-2*time.Second, 0).Seconds()
	sends := float64(cfg.Producers) * cfg.Rate * sending
	perMsg := 1.0
	for _, g := range cfg.Groups {
		if g.Broadcast {
			perMsg += float64(g.Members)
		} else {
			perMsg++
		}
	}
	return int(sends*perMsg) + 1024
}

func (r *run) onHost(h *sim.Host, f func(env host.Env)) {
	env := h.Start()
	env.Clock.AfterFunc(0, func() { f(env) })
}

func (r *run) newClient(env host.Env, h *sim.Host, instance string) *client.Client {
	c, err := client.New(env, client.Config{
		NamesrvAddrs:         []string{r.cl.NamesrvAddr()},
		ClientIP:             h.Addr(),
		InstanceName:         instance,
		RouteRefreshInterval: 3 * time.Second,
		HeartbeatInterval:    5 * time.Second,
	})
	if err != nil {
		panic(fmt.Sprintf("scenario: client: %v", err))
	}
	return c
}

func (r *run) startMember(m *member) {
	if m.host.Running() {
		return // a scheduled restart after the liveness phase already did it
	}
	m.up = true
	r.onHost(m.host, func(env host.Env) {
		m.env = env
		m.c = r.newClient(env, m.host, m.group.Name+"-"+strconv.Itoa(m.idx))
		cons, err := workloads.StartConsumer(m.c, r.rec, workloads.ConsumerSpec{
			Name: m.host.Name(), Group: m.group.Name, Topic: r.cfg.Topic, Broadcast: m.group.Broadcast,
			PersistInterval: time.Second, RebalanceInterval: 5 * time.Second, PullHoldTime: 5 * time.Second,
		})
		if err != nil {
			panic(fmt.Sprintf("scenario: consumer: %v", err))
		}
		m.cons = cons
	})
}

// restartMember shuts a member down cleanly (it commits), ends its process,
// and starts a new one after down.
func (r *run) restartMember(m *member, down time.Duration) {
	if !m.up || m.cons == nil {
		return
	}
	r.probes[ProbeConsumerRestarted]++
	m.up = false
	cons, c, h := m.cons, m.c, m.host
	m.env.Clock.AfterFunc(0, func() {
		cons.Shutdown(func() {
			c.Close()
			h.Crash(sim.ProcessCrash)
			r.w.Schedule(down, func() { r.startMember(m) })
		})
	})
}

// brokerStarted records the recovered content of the workload's queues.
func (r *run) brokerStarted(b *cluster.BrokerNode) {
	st := b.Broker.Store()
	rec := st.Recovery()
	if rec.TornTail {
		r.probes[ProbeRecoveredTornTail]++
	}
	if rec.Quarantined > 0 {
		r.probes[ProbeQuarantined]++
	}
	if b.Starts == 1 {
		return
	}
	r.observe(b, workloads.OpRecovered)
}

// observe reads every workload queue of b's store, as an oracle.
func (r *run) observe(b *cluster.BrokerNode, kind string) {
	st := b.Broker.Store()
	now := r.w.Now()
	// Every queue the store holds, not just those the topic was created
	// with: a broker that lost the topic's configuration may have made
	// others, and the checkers take a queue left out as empty.
	queues := st.QueueIDs(r.cfg.Topic)
	for q := range int32(r.cfg.Queues) {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	slices.Sort(queues)
	for _, q32 := range queues {
		q := int(q32)
		tail, ids := readQueue(st, r.cfg.Topic, q32)
		r.hist.Add(workloads.Op{Kind: kind, Node: b.Name, Broker: b.Name, Topic: r.cfg.Topic, Queue: q,
			Tail: tail, IDs: ids, Invoke: now, Complete: now, FlushDiskType: r.cfg.FlushDiskType.String()})
	}
}

// readQueue returns a queue's tail and the workload ids of its messages
// from its minimum offset on ("" where a record has none or is a hole).
func readQueue(st *store.Store, topic string, q int32) (int64, []string) {
	tail := st.MaxOffsetInQueue(topic, q)
	var ids []string
	for off := st.MinOffsetInQueue(topic, q); off < tail; {
		res := st.GetMessage(topic, q, off, 32, store.MatchAll{})
		for _, rg := range res.Ranges {
			b := rg.View
			if b == nil {
				b = make([]byte, rg.N)
				rg.File.ReadAt(b, rg.Off)
			}
			for len(b) > 0 {
				rec, n, err := message.DecodeHeader(b)
				if err != nil {
					break
				}
				for int64(len(ids)) < rec.QueueOffset-st.MinOffsetInQueue(topic, q) {
					ids = append(ids, "")
				}
				id, _ := rec.Property(workloads.PropertyWorkloadID)
				ids = append(ids, id)
				b = b[n:]
			}
		}
		if res.NextBeginOffset <= off {
			break
		}
		off = res.NextBeginOffset
	}
	for int64(len(ids)) < tail-st.MinOffsetInQueue(topic, q) {
		ids = append(ids, "")
	}
	base := st.MinOffsetInQueue(topic, q)
	for i, id := range ids {
		if id == "" && st.IsHole(topic, q, base+int64(i)) {
			ids[i] = workloads.HoleID
		}
	}
	return tail, ids
}
