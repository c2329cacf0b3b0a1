package remoting

import (
	"cmp"
	"log/slog"
	"slices"

	"github.com/thrustmq/thrust/broker/host"
)

// Server accepts connections and gives each a Channel whose requests go to
// one Dispatcher. It implements host.Handler for its listener; its OnOpen,
// OnMessage and OnClose are for the host to call.
type Server struct {
	clock      host.Clock
	log        *slog.Logger
	dispatcher *Dispatcher
	opts       Options
	listener   host.Listener
	channels   map[uint64]*Channel
	openHooks  []func(ch *Channel)
	closeHooks []func(ch *Channel, err error)
	closed     bool
}

// NewServer listens on addr. Channels share opts.Stats, or one Stats of the
// server's own when it is nil.
func NewServer(network host.Network, clock host.Clock, log *slog.Logger, addr string, d *Dispatcher, opts Options) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Stats == nil {
		opts.Stats = new(Stats)
	}
	s := &Server{
		clock:      clock,
		log:        log,
		dispatcher: d,
		opts:       opts,
		channels:   make(map[uint64]*Channel),
	}
	l, err := network.Listen(addr, opts.framer(), s)
	if err != nil {
		return nil, err
	}
	s.listener = l
	return s, nil
}

// Addr is the address the server listens on, with the port chosen if 0 was
// asked for.
func (s *Server) Addr() string { return s.listener.Addr() }

// Stats is the counters the server's channels share.
func (s *Server) Stats() *Stats { return s.opts.Stats }

// OnChannelOpen registers f to run for each new channel, before its first
// request.
func (s *Server) OnChannelOpen(f func(ch *Channel)) { s.openHooks = append(s.openHooks, f) }

// OnChannelClose registers f to run once for each channel that closes,
// whoever closed it; the broker drops the clients registered on it. See
// Channel.OnClose for when it runs.
func (s *Server) OnChannelClose(f func(ch *Channel, err error)) {
	s.closeHooks = append(s.closeHooks, f)
}

// Channel returns the open channel with the given id.
func (s *Server) Channel(id uint64) (*Channel, bool) {
	ch, ok := s.channels[id]
	if !ok || ch.closed {
		return nil, false
	}
	return ch, true
}

// Channels returns the open channels in id order.
func (s *Server) Channels() []*Channel {
	out := make([]*Channel, 0, len(s.channels))
	for _, ch := range s.channels {
		if !ch.closed {
			out = append(out, ch)
		}
	}
	slices.SortFunc(out, func(a, b *Channel) int { return cmp.Compare(a.ID(), b.ID()) })
	return out
}

// Close stops listening and closes every channel, in id order.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.listener.Close()
	for _, ch := range s.Channels() {
		ch.Close()
	}
	return err
}

// OnOpen implements host.Handler.
func (s *Server) OnOpen(c host.Conn) {
	if s.closed {
		c.Close()
		return
	}
	s.channelFor(c)
}

// channelFor returns c's channel, making it on first sight: a host that
// delivered a message before OnOpen would still be served.
func (s *Server) channelFor(c host.Conn) *Channel {
	if ch, ok := s.channels[c.ID()]; ok {
		return ch
	}
	ch := newChannel(s.clock, s.log, s.dispatcher, s.opts)
	ch.conn = c
	s.channels[c.ID()] = ch
	ch.OnClose(func(ch *Channel, err error) {
		for _, h := range s.closeHooks {
			h(ch, err)
		}
	})
	for _, h := range s.openHooks {
		h(ch)
	}
	return ch
}

// OnMessage implements host.Handler.
func (s *Server) OnMessage(c host.Conn, msg any) { s.channelFor(c).receive(msg) }

// OnClose implements host.Handler.
func (s *Server) OnClose(c host.Conn, err error) {
	ch, ok := s.channels[c.ID()]
	if !ok {
		return
	}
	delete(s.channels, c.ID())
	ch.connClosed(err)
}

// Dial connects to addr and returns the channel at once; requests may be
// invoked before the connection is established (the host queues them).
// Requests the peer pushes on the connection go to d, which may be nil.
// When the connection fails or ends, the channel closes: register OnClose
// to reconnect.
func Dial(network host.Network, clock host.Clock, log *slog.Logger, addr string, d *Dispatcher, opts Options) *Channel {
	ch := newChannel(clock, log, d, opts)
	ch.conn = network.Dial(addr, opts.framer(), dialHandler{ch})
	return ch
}

// dialHandler feeds a dialled connection's events to its channel.
type dialHandler struct{ ch *Channel }

func (h dialHandler) OnOpen(host.Conn)               {}
func (h dialHandler) OnMessage(_ host.Conn, msg any) { h.ch.receive(msg) }
func (h dialHandler) OnClose(_ host.Conn, err error) { h.ch.connClosed(err) }
