package namesrv

import (
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strconv"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/remoting"
)

// Server is a running name server: a RouteInfo fed by brokers and read by
// clients over the remoting protocol, plus the KV store. All of it runs on
// the node's loop.
type Server struct {
	env    host.Env
	cfg    Config
	log    *slog.Logger
	routes *RouteInfo
	kv     *kvConfig
	rs     *remoting.Server
	scan   host.Timer
	closed bool
}

// Start listens on listenAddr ("0.0.0.0:9876"; port 0 picks one) and serves
// until Close. It runs on env's loop, or before the loop starts: a combined
// process starts a name server beside a broker on one loop this way.
func Start(env host.Env, cfg Config, listenAddr string) (*Server, error) {
	if cfg.ScanNotActiveBrokerInterval <= 0 {
		return nil, fmt.Errorf("namesrv: scan interval %v must be positive", cfg.ScanNotActiveBrokerInterval)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := loadKVConfig(env.FS, cfg.KVConfigPath, log)
	if err != nil {
		return nil, err
	}
	s := &Server{env: env, cfg: cfg, log: log, routes: NewRouteInfo(cfg, log), kv: kv}

	d := remoting.NewDispatcher()
	d.Handle(remoting.PutKVConfig, s.putKVConfig)
	d.Handle(remoting.GetKVConfig, s.getKVConfig)
	d.Handle(remoting.DeleteKVConfig, s.deleteKVConfig)
	d.Handle(remoting.GetKVListByNamespace, s.getKVListByNamespace)
	d.Handle(remoting.RegisterBroker, s.registerBroker)
	d.Handle(remoting.UnregisterBroker, s.unregisterBroker)
	d.Handle(remoting.QueryDataVersion, s.queryDataVersion)
	d.Handle(remoting.BrokerHeartbeat, s.brokerHeartbeat)
	d.Handle(remoting.GetRouteinfoByTopic, s.getRouteInfoByTopic)
	d.Handle(remoting.GetBrokerClusterInfo, s.getBrokerClusterInfo)
	d.Handle(remoting.WipeWritePermOfBroker, s.wipeWritePermOfBroker)
	d.Handle(remoting.AddWritePermOfBroker, s.addWritePermOfBroker)
	d.Handle(remoting.GetAllTopicListFromNameserver, s.getAllTopicList)
	d.Handle(remoting.DeleteTopicInNamesrv, s.deleteTopicInNamesrv)
	d.Handle(remoting.GetTopicsByCluster, s.getTopicsByCluster)
	d.Handle(remoting.GetSystemTopicListFromNS, s.getSystemTopicList)
	d.Handle(remoting.GetUnitTopicList, s.topicListBySysFlag(func(f int32) bool {
		return f&TopicSysFlagUnit != 0
	}))
	d.Handle(remoting.GetHasUnitSubTopicList, s.topicListBySysFlag(func(f int32) bool {
		return f&TopicSysFlagUnitSub != 0
	}))
	d.Handle(remoting.GetHasUnitSubUnunitTopicList, s.topicListBySysFlag(func(f int32) bool {
		return f&TopicSysFlagUnit == 0 && f&TopicSysFlagUnitSub != 0
	}))
	d.Handle(remoting.GetNamesrvConfig, s.getNamesrvConfig)

	rs, err := remoting.NewServer(env.Net, env.Clock, log, listenAddr, d, remoting.Options{})
	if err != nil {
		return nil, fmt.Errorf("namesrv: listen on %s: %w", listenAddr, err)
	}
	s.rs = rs
	rs.OnChannelClose(s.channelClosed)
	s.scan = env.Clock.AfterFunc(cfg.ScanNotActiveBrokerInterval, s.scanNotActiveBrokers)
	log.Info("namesrv: listening", "addr", rs.Addr())
	return s, nil
}

// Addr is the address the server listens on, with the chosen port.
func (s *Server) Addr() string { return s.rs.Addr() }

// Config is the configuration the server runs with.
func (s *Server) Config() Config { return s.cfg }

// Routes is the server's route table. Callers on the loop may read it (the
// simulator's checkers do); changing it bypasses the protocol.
func (s *Server) Routes() *RouteInfo { return s.routes }

// Close stops listening, closes every connection and stops the expiry scan.
// It runs on the loop. The route table is left as it was.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.scan.Stop()
	return s.rs.Close()
}

// scanNotActiveBrokers drops brokers that stopped registering, and closes
// their connections as Java does: a broker that comes back registers anew.
func (s *Server) scanNotActiveBrokers() {
	if s.closed {
		return
	}
	for _, e := range s.routes.ScanNotActiveBrokers(s.env.Clock.Mono()) {
		s.log.Warn("namesrv: broker expired, no registration within its timeout",
			"cluster", e.ClusterName, "brokerName", e.BrokerName, "brokerAddr", e.BrokerAddr, "timeout", e.Timeout)
		if ch, ok := s.rs.Channel(e.ConnID); ok {
			ch.Close()
		}
	}
	s.scan = s.env.Clock.AfterFunc(s.cfg.ScanNotActiveBrokerInterval, s.scanNotActiveBrokers)
}

func (s *Server) channelClosed(ch *remoting.Channel, err error) {
	if s.closed {
		return
	}
	for _, b := range s.routes.ConnClosed(ch.ID()) {
		s.log.Info("namesrv: broker connection closed, broker removed",
			"cluster", b.ClusterName, "brokerAddr", b.BrokerAddr, "err", err)
	}
}

// respond sends resp. A failure means the channel is closed or closing, and
// its close hook cleans up; there is nothing more to do here.
func (s *Server) respond(ch *remoting.Channel, req, resp *remoting.Command) {
	if err := ch.Respond(req, resp); err != nil {
		s.log.Debug("namesrv: response not sent", "code", remoting.RequestCode(req.Code), "remote", ch.RemoteAddr(), "err", err)
	}
}

func (s *Server) fail(ch *remoting.Channel, req *remoting.Command, code remoting.ResponseCode, remark string) {
	s.respond(ch, req, remoting.NewResponse(req, code, remark))
}

func (s *Server) ok(ch *remoting.Channel, req *remoting.Command, body []byte) {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	s.respond(ch, req, resp)
}

// errFieldEmpty: a required header field is present but empty.
var errFieldEmpty = errors.New("namesrv: ext field empty")

// header reads the named string fields, all required and non-empty, as
// Java's @CFNotNull fields are (an empty broker name or topic is never
// meant). It answers SYSTEM_ERROR itself and returns false when one is
// missing.
func (s *Server) header(ch *remoting.Channel, req *remoting.Command, keys ...string) ([]string, bool) {
	out := make([]string, len(keys))
	for i, k := range keys {
		v, ok := req.ExtFields.Get(k)
		if !ok {
			s.badHeader(ch, req, &remoting.FieldError{Key: k, Want: "string", Err: remoting.ErrFieldMissing})
			return nil, false
		}
		if v == "" {
			s.badHeader(ch, req, fmt.Errorf("%w: %q", errFieldEmpty, k))
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

func (s *Server) badHeader(ch *remoting.Channel, req *remoting.Command, err error) {
	s.log.Info("namesrv: malformed request", "code", remoting.RequestCode(req.Code), "remote", ch.RemoteAddr(), "err", err)
	s.fail(ch, req, remoting.SystemError, err.Error())
}

// optional reads an optional typed field: absent gives def.
func optional[T any](f remoting.Fields, key string, def T, parse func(string) (T, error)) (T, error) {
	if !f.Has(key) {
		return def, nil
	}
	return parse(key)
}

// maxHeartbeatTimeout caps a broker's heartbeatTimeoutMillis.
const maxHeartbeatTimeout = 10 * 365 * 24 * time.Hour

// registerBroker serves REGISTER_BROKER (103).
func (s *Server) registerBroker(ch *remoting.Channel, req *remoting.Command) {
	h := req.ExtFields
	v, ok := s.header(ch, req, "brokerName", "brokerAddr", "clusterName")
	if !ok {
		return
	}
	brokerID, err := h.Int64("brokerId")
	if err != nil {
		s.badHeader(ch, req, err)
		return
	}
	timeoutMillis, err := optional(h, "heartbeatTimeoutMillis", 0, h.Int64)
	if err != nil {
		s.badHeader(ch, req, err)
		return
	}
	// The window is the broker's to choose; the cap only keeps the
	// arithmetic on it from overflowing.
	timeoutMillis = min(timeoutMillis, maxHeartbeatTimeout.Milliseconds())
	compressed, err := optional(h, "compressed", false, h.Bool)
	if err != nil {
		s.badHeader(ch, req, err)
		return
	}
	actingMaster, err := optional(h, "enableActingMaster", false, h.Bool)
	if err != nil {
		s.badHeader(ch, req, err)
		return
	}
	wantCRC, err := optional(h, "bodyCrc32", 0, h.Int32)
	if err != nil {
		s.badHeader(ch, req, err)
		return
	}
	if wantCRC != 0 {
		if got := int32(crc32.ChecksumIEEE(req.Body) & 0x7fffffff); got != wantCRC {
			s.log.Warn("namesrv: register body crc32 mismatch", "brokerName", v[0], "brokerAddr", v[1], "want", wantCRC, "got", got)
			s.fail(ch, req, remoting.SystemError, "crc32 not match")
			return
		}
	}
	body, err := DecodeRegisterBrokerBody(req.Body, compressed)
	if err != nil {
		s.log.Warn("namesrv: register body undecodable", "brokerName", v[0], "brokerAddr", v[1], "err", err)
		s.fail(ch, req, remoting.SystemError, err.Error())
		return
	}
	res := s.routes.RegisterBroker(s.env.Clock.Mono(), Registration{
		ClusterName:        v[2],
		BrokerName:         v[0],
		BrokerAddr:         v[1],
		HAServerAddr:       h.Str("haServerAddr"),
		ZoneName:           h.Str("__ZONE_NAME"),
		BrokerID:           brokerID,
		HeartbeatTimeout:   time.Duration(timeoutMillis) * time.Millisecond,
		EnableActingMaster: actingMaster,
		Body:               body,
		ConnID:             ch.ID(),
	})
	resp := remoting.NewResponse(req, remoting.Success, "")
	if res.MasterAddr != "" {
		resp.ExtFields.Add("haServerAddr", res.HAServerAddr)
		resp.ExtFields.Add("masterAddr", res.MasterAddr)
	}
	if s.cfg.ReturnOrderTopicConfigToBroker {
		if table, ok := s.kv.List(NamespaceOrderTopicConfig); ok {
			resp.Body = encodeKVTable(table)
		}
	}
	s.respond(ch, req, resp)
}

// unregisterBroker serves UNREGISTER_BROKER (104), which a broker sends as
// it shuts down.
func (s *Server) unregisterBroker(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "brokerName", "brokerAddr", "clusterName")
	if !ok {
		return
	}
	s.log.Info("namesrv: broker unregistered", "cluster", v[2], "brokerName", v[0], "brokerAddr", v[1])
	s.routes.UnregisterBroker(v[2], v[1], v[0])
	s.ok(ch, req, nil)
}

// queryDataVersion serves QUERY_DATA_VERSION (322): whether the broker's
// topic configuration differs from what it last registered. It counts as a
// heartbeat.
func (s *Server) queryDataVersion(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "brokerAddr", "clusterName")
	if !ok {
		return
	}
	cluster, addr := v[1], v[0]
	changed := true
	prev, registered := s.routes.BrokerDataVersion(cluster, addr)
	if len(req.Body) > 0 {
		dv, err := DecodeDataVersion(req.Body)
		if err != nil {
			s.badHeader(ch, req, err)
			return
		}
		changed = !registered || prev != dv
	}
	s.routes.Touch(s.env.Clock.Mono(), cluster, addr)
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields.Add("changed", strconv.FormatBool(changed))
	if registered {
		resp.Body = prev.Encode()
	}
	s.respond(ch, req, resp)
}

// brokerHeartbeat serves BROKER_HEARTBEAT (904), the lightweight keep-alive
// of acting-master and controller modes.
func (s *Server) brokerHeartbeat(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "clusterName", "brokerAddr")
	if !ok {
		return
	}
	s.routes.Touch(s.env.Clock.Mono(), v[0], v[1])
	s.ok(ch, req, nil)
}

// topicNotExistRemark is Java's text, less the link to a FAQ page that
// Java appends.
const topicNotExistRemark = "No topic route info in name server for the topic: "

// getRouteInfoByTopic serves GET_ROUTEINFO_BY_TOPIC (105), the request every
// client depends on.
func (s *Server) getRouteInfoByTopic(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "topic")
	if !ok {
		return
	}
	topic := v[0]
	route, found := s.routes.TopicRoute(topic)
	if !found {
		s.fail(ch, req, remoting.TopicNotExist, topicNotExistRemark+topic)
		return
	}
	if s.cfg.OrderMessageEnable {
		route.OrderTopicConf, _ = s.kv.Get(NamespaceOrderTopicConfig, topic)
	}
	// NB: a Java name server writes brokerAddrs with bare integer keys for
	// clients older than 4.9.4 (the Go client says 3.x). Thrust writes
	// standard JSON to everyone; every client parses it.
	s.ok(ch, req, route.Encode())
}

// getBrokerClusterInfo serves GET_BROKER_CLUSTER_INFO (106).
func (s *Server) getBrokerClusterInfo(ch *remoting.Channel, req *remoting.Command) {
	ci := s.routes.ClusterInfo()
	s.ok(ch, req, ci.Encode())
}

// wipeWritePermOfBroker serves WIPE_WRITE_PERM_OF_BROKER (205).
func (s *Server) wipeWritePermOfBroker(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "brokerName")
	if !ok {
		return
	}
	n := s.routes.WipeWritePerm(v[0])
	s.log.Info("namesrv: write permission wiped", "brokerName", v[0], "topics", n, "remote", ch.RemoteAddr())
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields.Add("wipeTopicCount", strconv.Itoa(n))
	s.respond(ch, req, resp)
}

// addWritePermOfBroker serves ADD_WRITE_PERM_OF_BROKER (327).
func (s *Server) addWritePermOfBroker(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "brokerName")
	if !ok {
		return
	}
	n := s.routes.AddWritePerm(v[0])
	s.log.Info("namesrv: write permission added", "brokerName", v[0], "topics", n, "remote", ch.RemoteAddr())
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields.Add("addTopicCount", strconv.Itoa(n))
	s.respond(ch, req, resp)
}

// getAllTopicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
func (s *Server) getAllTopicList(ch *remoting.Channel, req *remoting.Command) {
	if !s.cfg.EnableAllTopicList {
		s.fail(ch, req, remoting.SystemError, "disable")
		return
	}
	tl := TopicList{TopicList: s.routes.AllTopics()}
	s.ok(ch, req, tl.Encode())
}

// deleteTopicInNamesrv serves DELETE_TOPIC_IN_NAMESRV (216). The topic
// comes back with its broker's next registration unless the broker deleted
// it too (mqadmin deleteTopic does both).
func (s *Server) deleteTopicInNamesrv(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "topic")
	if !ok {
		return
	}
	cluster := req.ExtFields.Str("clusterName")
	s.log.Info("namesrv: topic deleted", "topic", v[0], "cluster", cluster, "remote", ch.RemoteAddr())
	s.routes.DeleteTopic(v[0], cluster)
	s.ok(ch, req, nil)
}

// getTopicsByCluster serves GET_TOPICS_BY_CLUSTER (224).
func (s *Server) getTopicsByCluster(ch *remoting.Channel, req *remoting.Command) {
	if !s.cfg.EnableTopicList {
		s.fail(ch, req, remoting.SystemError, "disable")
		return
	}
	v, ok := s.header(ch, req, "cluster")
	if !ok {
		return
	}
	tl := TopicList{TopicList: s.routes.TopicsByCluster(v[0])}
	s.ok(ch, req, tl.Encode())
}

// getSystemTopicList serves GET_SYSTEM_TOPIC_LIST_FROM_NS (304).
func (s *Server) getSystemTopicList(ch *remoting.Channel, req *remoting.Command) {
	tl := s.routes.SystemTopics()
	s.ok(ch, req, tl.Encode())
}

// topicListBySysFlag serves the unit topic lists (311, 312, 313).
func (s *Server) topicListBySysFlag(match func(sysFlag int32) bool) remoting.HandlerFunc {
	return func(ch *remoting.Channel, req *remoting.Command) {
		if !s.cfg.EnableTopicList {
			s.fail(ch, req, remoting.SystemError, "disable")
			return
		}
		tl := TopicList{TopicList: s.routes.topicsWithFlag(match)}
		s.ok(ch, req, tl.Encode())
	}
}

// getNamesrvConfig serves GET_NAMESRV_CONFIG (319): the configuration as
// properties text.
func (s *Server) getNamesrvConfig(ch *remoting.Channel, req *remoting.Command) {
	s.ok(ch, req, []byte(s.cfg.Properties()))
}

// putKVConfig serves PUT_KV_CONFIG (100). It answers once the change is
// durable.
func (s *Server) putKVConfig(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "namespace", "key")
	if !ok {
		return
	}
	value, present := req.ExtFields.Get("value")
	if !present {
		s.badHeader(ch, req, &remoting.FieldError{Key: "value", Want: "string", Err: remoting.ErrFieldMissing})
		return
	}
	if err := s.kv.Put(v[0], v[1], value); err != nil {
		s.log.Error("namesrv: kv config not saved", "namespace", v[0], "key", v[1], "err", err)
		s.fail(ch, req, remoting.SystemError, err.Error())
		return
	}
	s.ok(ch, req, nil)
}

// getKVConfig serves GET_KV_CONFIG (101).
func (s *Server) getKVConfig(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "namespace", "key")
	if !ok {
		return
	}
	value, found := s.kv.Get(v[0], v[1])
	if !found {
		s.fail(ch, req, remoting.QueryNotFound, "No config item, Namespace: "+v[0]+" Key: "+v[1])
		return
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields.Add("value", value)
	s.respond(ch, req, resp)
}

// deleteKVConfig serves DELETE_KV_CONFIG (102).
func (s *Server) deleteKVConfig(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "namespace", "key")
	if !ok {
		return
	}
	if err := s.kv.Delete(v[0], v[1]); err != nil {
		s.log.Error("namesrv: kv config not saved", "namespace", v[0], "key", v[1], "err", err)
		s.fail(ch, req, remoting.SystemError, err.Error())
		return
	}
	s.ok(ch, req, nil)
}

// getKVListByNamespace serves GET_KVLIST_BY_NAMESPACE (219).
func (s *Server) getKVListByNamespace(ch *remoting.Channel, req *remoting.Command) {
	v, ok := s.header(ch, req, "namespace")
	if !ok {
		return
	}
	table, found := s.kv.List(v[0])
	if !found {
		s.fail(ch, req, remoting.QueryNotFound, "No config item, Namespace: "+v[0])
		return
	}
	s.ok(ch, req, encodeKVTable(table))
}
