package remoting

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thrustmq/thrust/broker/host"
)

func newTestChannel(d *Dispatcher, conn host.Conn, opts Options) (*Channel, *fakeLoop) {
	loop := &fakeLoop{}
	ch := newChannel(loop, nil, d, opts)
	ch.conn = conn
	return ch, loop
}

// deliver hands c to ch as if it had arrived on the wire.
func deliver(t *testing.T, ch *Channel, c *Command) {
	t.Helper()
	frame, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	ch.receive(Framer{}.Decode(frame))
}

func TestUnknownCodeNotSupported(t *testing.T) {
	for _, typ := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(NewDispatcher(), conn, Options{})
		deliver(t, ch, &Command{Code: 9999, Language: LanguageGo, Version: 317, Opaque: 5, Serialize: typ})
		got := conn.frames(t)
		if len(got) != 1 {
			t.Fatalf("%v: %d frames written", typ, len(got))
		}
		resp := got[0]
		if resp.Code != int32(RequestCodeNotSupported) || resp.Remark != " request type 9999 not supported" ||
			resp.Opaque != 5 || !resp.IsResponse() || resp.Serialize != typ {
			t.Fatalf("%v: response %+v", typ, resp)
		}
		if ch.Stats().UnsupportedRequests != 1 || ch.Stats().RequestsIn != 1 || ch.Stats().ResponsesOut != 1 {
			t.Fatalf("stats %+v", ch.Stats())
		}
	}
}

func TestOnewayGetsNoResponse(t *testing.T) {
	conn := &fakeConn{id: 1}
	d := NewDispatcher()
	served := 0
	d.Handle(UpdateConsumerOffset, func(ch *Channel, req *Command) {
		served++
		if err := ch.Respond(req, NewResponse(req, Success, "")); err != nil {
			t.Fatal(err)
		}
	})
	ch, _ := newTestChannel(d, conn, Options{})
	deliver(t, ch, &Command{Code: int32(UpdateConsumerOffset), Opaque: 1, Flag: FlagOneway})
	deliver(t, ch, &Command{Code: 9999, Opaque: 2, Flag: FlagOneway})
	if served != 1 {
		t.Fatalf("handler ran %d times", served)
	}
	if len(conn.written) != 0 {
		t.Fatalf("wrote %q for oneway requests", conn.written)
	}
	// Without the flag (as the Go client sends it) the request is answered.
	deliver(t, ch, &Command{Code: int32(UpdateConsumerOffset), Opaque: 3})
	if got := conn.frames(t); len(got) != 1 || got[0].Opaque != 3 {
		t.Fatalf("frames %v", got)
	}
}

func TestResponsesMatchedOutOfOrder(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{})
	got := map[int32]string{}
	for i := range 3 {
		ch.Invoke(NewRequest(PullMessage, IntField("n", int64(i))), 30*time.Second, func(resp *Command, err error) {
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			got[int32(i)] = resp.Remark
		})
	}
	reqs := conn.frames(t)
	if len(reqs) != 3 {
		t.Fatalf("%d requests written", len(reqs))
	}
	for i, r := range reqs {
		if r.Opaque != int32(i+1) || r.IsResponse() || r.ExtFields.Str("n") != string(rune('0'+i)) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	for _, i := range []int{2, 0, 1} {
		deliver(t, ch, NewResponse(reqs[i], Success, "for "+reqs[i].ExtFields.Str("n")))
	}
	loop.Run()
	want := map[int32]string{0: "for 0", 1: "for 1", 2: "for 2"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("callbacks got %v, want %v", got, want)
		}
	}
	if ch.Pending() != 0 {
		t.Fatalf("%d still pending", ch.Pending())
	}
}

func TestInvokeTimeout(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{})
	calls := 0
	var gotErr error
	ch.Invoke(NewRequest(LockBatchMQ), time.Second, func(resp *Command, err error) {
		calls++
		gotErr = err
	})
	req := conn.frames(t)[0]
	loop.Advance(999 * time.Millisecond)
	if calls != 0 {
		t.Fatal("timed out early")
	}
	loop.Advance(time.Millisecond)
	if calls != 1 || !errors.Is(gotErr, ErrTimeout) {
		t.Fatalf("calls %d, err %v", calls, gotErr)
	}
	if want := "remoting: request timed out: LOCK_BATCH_MQ opaque 1 after 1s"; gotErr.Error() != want {
		t.Fatalf("err %q, want %q", gotErr, want)
	}
	// The late response is counted and dropped.
	deliver(t, ch, NewResponse(req, Success, ""))
	loop.Advance(time.Hour)
	if calls != 1 || ch.Stats().UnmatchedResponses != 1 || ch.Stats().Timeouts != 1 {
		t.Fatalf("calls %d, stats %+v", calls, ch.Stats())
	}
}

func TestResponseStopsTimer(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{})
	calls := 0
	ch.Invoke(NewRequest(HeartBeat), time.Second, func(resp *Command, err error) {
		calls++
		if err != nil || resp.Code != 0 {
			t.Errorf("resp %v, err %v", resp, err)
		}
	})
	deliver(t, ch, NewResponse(conn.frames(t)[0], Success, ""))
	loop.Advance(time.Hour)
	if calls != 1 || ch.Stats().Timeouts != 0 {
		t.Fatalf("calls %d, stats %+v", calls, ch.Stats())
	}
}

func TestCloseFailsPendingInOrder(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{})
	var events []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		ch.Invoke(NewRequest(PullMessage), 0, func(resp *Command, err error) {
			if !errors.Is(err, ErrChannelClosed) {
				t.Errorf("%s: err %v", name, err)
			}
			events = append(events, name)
		})
	}
	ch.OnClose(func(c *Channel, err error) { events = append(events, "hook") })
	ch.Close()
	if len(events) != 0 {
		t.Fatalf("callbacks ran inside Close: %v", events)
	}
	if !conn.closed || !ch.Closed() || ch.Pending() != 0 {
		t.Fatal("not closed")
	}
	loop.Run()
	if want := []string{"a", "b", "c", "d", "e", "hook"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}

	// After close: Invoke fails later, InvokeOneway and Respond at once.
	failed := false
	ch.Invoke(NewRequest(PullMessage), time.Second, func(resp *Command, err error) {
		failed = errors.Is(err, ErrChannelClosed)
	})
	if failed {
		t.Fatal("callback ran inside Invoke")
	}
	loop.Run()
	if !failed {
		t.Fatal("Invoke on a closed channel did not fail")
	}
	if err := ch.InvokeOneway(NewRequest(NotifyConsumerIdsChanged)); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("InvokeOneway: %v", err)
	}
	if err := ch.Respond(&Command{Opaque: 1}, &Command{}); !errors.Is(err, ErrChannelClosed) {
		t.Fatalf("Respond: %v", err)
	}
	late := false
	ch.OnClose(func(*Channel, error) { late = true })
	loop.Run()
	if !late {
		t.Fatal("hook registered after close did not run")
	}
}

func TestWriteErrorClosesChannel(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{})
	var pendingErr, hookErr error
	ch.Invoke(NewRequest(PullMessage), 0, func(resp *Command, err error) { pendingErr = err })
	ch.OnClose(func(c *Channel, err error) { hookErr = err })
	conn.failNext = host.ErrBackpressure
	req := &Command{Code: int32(SendMessage), Opaque: 9}
	err := ch.Respond(req, NewResponse(req, Success, ""))
	if !errors.Is(err, ErrChannelClosed) || !errors.Is(err, host.ErrBackpressure) {
		t.Fatalf("Respond: %v", err)
	}
	if !ch.Closed() || !conn.closed {
		t.Fatal("channel not closed after a refused write")
	}
	loop.Run()
	if !errors.Is(pendingErr, ErrChannelClosed) || !errors.Is(pendingErr, host.ErrBackpressure) {
		t.Fatalf("pending call failed with %v", pendingErr)
	}
	if !errors.Is(hookErr, host.ErrBackpressure) {
		t.Fatalf("hook got %v", hookErr)
	}
	if ch.Stats().WriteErrors != 1 {
		t.Fatalf("stats %+v", ch.Stats())
	}
}

func TestDecodeErrorHandling(t *testing.T) {
	badExt := func(opaque, flag string) []byte {
		return frameOf(SerializeJSON, []byte(`{"code":10,"opaque":`+opaque+`,"flag":`+flag+`,"extFields":{"a":[]}}`), nil)
	}
	t.Run("request with known opaque gets SYSTEM_ERROR", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		ch.receive(Framer{}.Decode(badExt("12", "0")))
		got := conn.frames(t)
		if len(got) != 1 || got[0].Code != int32(SystemError) || got[0].Opaque != 12 || !got[0].IsResponse() ||
			!strings.HasPrefix(got[0].Remark, "remoting: json header at byte") {
			t.Fatalf("frames %v", got)
		}
		if ch.Closed() || ch.Stats().DecodeErrors != 1 {
			t.Fatalf("closed %v, stats %+v", ch.Closed(), ch.Stats())
		}
	})
	t.Run("oneway request is dropped", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		ch.receive(Framer{}.Decode(badExt("12", "2")))
		if len(conn.written) != 0 || ch.Closed() {
			t.Fatalf("wrote %q, closed %v", conn.written, ch.Closed())
		}
	})
	t.Run("response fails its call", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, loop := newTestChannel(nil, conn, Options{})
		var gotErr error
		ch.Invoke(NewRequest(SendMessage), time.Second, func(resp *Command, err error) { gotErr = err })
		ch.receive(Framer{}.Decode(badExt("1", "1")))
		loop.Run()
		var derr *DecodeError
		if !errors.As(gotErr, &derr) || derr.Opaque != 1 || !errors.Is(gotErr, ErrMalformedHeader) {
			t.Fatalf("call failed with %v", gotErr)
		}
		if ch.Closed() || len(conn.frames(t)) != 1 {
			t.Fatal("answered a response, or closed")
		}
	})
	t.Run("unknown opaque closes", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, loop := newTestChannel(nil, conn, Options{})
		var hookErr error
		ch.OnClose(func(c *Channel, err error) { hookErr = err })
		ch.receive(Framer{}.Decode(frameOf(SerializeJSON, []byte(`{"code":10,"opaque":x}`), nil)))
		loop.Run()
		if !ch.Closed() || !conn.closed || len(conn.written) != 0 || !errors.Is(hookErr, ErrMalformedHeader) {
			t.Fatalf("closed %v, wrote %q, hook err %v", ch.Closed(), conn.written, hookErr)
		}
	})
	t.Run("opaque known but flag not closes", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		ch.receive(Framer{}.Decode(frameOf(SerializeJSON, []byte(`{"opaque":4,"flag":"x"}`), nil)))
		if !ch.Closed() || len(conn.written) != 0 {
			t.Fatalf("closed %v, wrote %q", ch.Closed(), conn.written)
		}
	})
}

// A handler that keeps its request (a long poll) must not hold back the
// next request on the same channel.
func TestHeldRequestDoesNotBlockOthers(t *testing.T) {
	conn := &fakeConn{id: 1}
	d := NewDispatcher()
	var held []*Command
	d.Handle(PullMessage, func(ch *Channel, req *Command) { held = append(held, req) })
	d.Handle(HeartBeat, func(ch *Channel, req *Command) { ch.Respond(req, NewResponse(req, Success, "")) })
	ch, loop := newTestChannel(d, conn, Options{})
	deliver(t, ch, &Command{Code: int32(PullMessage), Opaque: 1})
	deliver(t, ch, &Command{Code: int32(PullMessage), Opaque: 2})
	deliver(t, ch, &Command{Code: int32(HeartBeat), Opaque: 3})
	if got := conn.frames(t); len(got) != 1 || got[0].Opaque != 3 {
		t.Fatalf("frames %v", got)
	}
	// The hold expires later, in the other order.
	loop.AfterFunc(20*time.Second, func() {
		for _, req := range slices.Backward(held) {
			ch.Respond(req, NewResponse(req, PullNotFound, ""))
		}
	})
	loop.Advance(20 * time.Second)
	got := conn.frames(t)
	if len(got) != 2 || got[0].Opaque != 2 || got[1].Opaque != 1 || got[0].Code != int32(PullNotFound) {
		t.Fatalf("frames %v", got)
	}
}

func TestRespondWithBody(t *testing.T) {
	file := &memFile{name: "00000000000000000000", data: []byte("0123456789abcdefghij")}
	segments := []BodySegment{
		{File: file, Off: 2, N: 3},                         // "234"
		{View: []byte("VIEW"), N: 4},                       // memory only
		{File: file, Off: 10, N: 5, View: []byte("abcde")}, // both
		{File: file, Off: 0, N: 0},                         // empty
		{File: file, Off: 18, N: 2},                        // "ij"
	}
	const wantBody = "234VIEWabcdeij"
	tests := []struct {
		name        string
		sendFile    bool // the connection can
		useSendFile bool // the channel may
		sendFiles   int
		sent        uint64
		copied      uint64
	}{
		{"no sendfile on the connection", false, true, 0, 0, 14},
		{"sendfile off", true, false, 0, 0, 14},
		{"sendfile", true, true, 4, 10, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf := &sendFileConn{fakeConn: fakeConn{id: 1}}
			var conn host.Conn = &sf.fakeConn
			if tt.sendFile {
				conn = sf
			}
			ch, _ := newTestChannel(nil, conn, Options{UseSendFile: tt.useSendFile})
			req := &Command{Code: int32(PullMessage), Opaque: 8}
			resp := NewResponse(req, Success, "")
			resp.ExtFields.Add("nextBeginOffset", "2")
			if err := ch.RespondWithBody(req, resp, segments); err != nil {
				t.Fatal(err)
			}
			got := sf.frames(t)
			if len(got) != 1 || string(got[0].Body) != wantBody || got[0].Opaque != 8 || got[0].ExtFields.Str("nextBeginOffset") != "2" {
				t.Fatalf("frames %v", got)
			}
			st := ch.Stats()
			if sf.sendFiles != tt.sendFiles || st.SendFileBytes != tt.sent || st.CopiedBodyBytes != tt.copied || st.ResponsesOut != 1 {
				t.Fatalf("sendfiles %d, stats %+v", sf.sendFiles, st)
			}
		})
	}

	t.Run("ranges that continue each other merge", func(t *testing.T) {
		mapping := []byte(string(file.data)) // stands for the file's mapping
		segs := []BodySegment{
			{File: file, Off: 0, N: 3, View: mapping[0:3]},
			{File: file, Off: 3, N: 4, View: mapping[3:7]},
			{File: file, Off: 7, N: 2, View: mapping[7:9]}, // "012345678": one range
			{File: file, Off: 12, N: 2, View: mapping[12:14]},
			{File: file, Off: 14, N: 1, View: []byte("e")}, // next in the file, not in memory
			{File: file, Off: 16, N: 2},                    // a gap in the file
		}
		sf := &sendFileConn{fakeConn: fakeConn{id: 1}}
		ch, _ := newTestChannel(nil, sf, Options{UseSendFile: true})
		req := &Command{Code: int32(PullMessage), Opaque: 3}
		if err := ch.RespondWithBody(req, NewResponse(req, Success, ""), segs); err != nil {
			t.Fatal(err)
		}
		got := sf.frames(t)
		if len(got) != 1 || string(got[0].Body) != "012345678cdegh" {
			t.Fatalf("frames %v", got)
		}
		if sf.sendFiles != 4 {
			t.Fatalf("%d sendfiles, want 4: the first three ranges as one", sf.sendFiles)
		}
		if segs[0].N != 3 || len(segs[0].View) != 3 {
			t.Fatalf("the caller's segments changed: %+v", segs[0])
		}
	})
	t.Run("read error writes nothing", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		bad := &memFile{name: "bad", readErr: host.ErrIO}
		req := &Command{Opaque: 1}
		err := ch.RespondWithBody(req, NewResponse(req, Success, ""), []BodySegment{{View: []byte("x"), N: 1}, {File: bad, N: 4}})
		if !errors.Is(err, host.ErrIO) || len(conn.written) != 0 || ch.Closed() {
			t.Fatalf("err %v, wrote %q, closed %v", err, conn.written, ch.Closed())
		}
		// Short read past the end of the file.
		err = ch.RespondWithBody(req, NewResponse(req, Success, ""), []BodySegment{{File: file, Off: 18, N: 4}})
		if err == nil || !strings.Contains(err.Error(), "read 2 of 4 bytes at offset 18 of 00000000000000000000: unexpected EOF") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad segments", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		req := &Command{Opaque: 1}
		for _, segs := range [][]BodySegment{
			{{N: -1, View: []byte{}}},
			{{N: 2, View: []byte("x")}},
			{{N: 2}},
			{{File: file, N: math.MaxInt32}, {File: file, N: 1}},
		} {
			if err := ch.RespondWithBody(req, NewResponse(req, Success, ""), segs); !errors.Is(err, ErrBadBody) {
				t.Errorf("segments %v: err %v", segs, err)
			}
		}
		if len(conn.written) != 0 {
			t.Fatalf("wrote %q", conn.written)
		}
	})
	t.Run("oneway", func(t *testing.T) {
		conn := &fakeConn{id: 1}
		ch, _ := newTestChannel(nil, conn, Options{})
		req := &Command{Opaque: 1, Flag: FlagOneway}
		if err := ch.RespondWithBody(req, NewResponse(req, Success, ""), segments); err != nil || len(conn.written) != 0 {
			t.Fatalf("err %v, wrote %q", err, conn.written)
		}
	})
}

func TestOpaqueWrapsAndSkipsPending(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, _ := newTestChannel(nil, conn, Options{})
	noop := func(*Command, error) {}
	ch.Invoke(NewRequest(PullMessage), 0, noop) // opaque 1, stays pending
	ch.lastOpaque = math.MaxInt32 - 1
	ch.Invoke(NewRequest(PullMessage), 0, noop) // MaxInt32
	ch.Invoke(NewRequest(PullMessage), 0, noop) // wraps; 1 is busy, so 2
	var opaques []int32
	for _, f := range conn.frames(t) {
		opaques = append(opaques, f.Opaque)
	}
	if want := []int32{1, math.MaxInt32, 2}; !slices.Equal(opaques, want) {
		t.Fatalf("opaques %v, want %v", opaques, want)
	}
}

func TestTooManyPending(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, loop := newTestChannel(nil, conn, Options{MaxPending: 2})
	var errs []error
	for range 3 {
		ch.Invoke(NewRequest(PullMessage), 0, func(_ *Command, err error) { errs = append(errs, err) })
	}
	loop.Run()
	if len(errs) != 1 || !errors.Is(errs[0], ErrTooManyPending) || conn.writes != 2 {
		t.Fatalf("errs %v, writes %d", errs, conn.writes)
	}
}

func TestInvokeOneway(t *testing.T) {
	conn := &fakeConn{id: 1}
	ch, _ := newTestChannel(nil, conn, Options{})
	if err := ch.InvokeOneway(NewRequest(NotifyConsumerIdsChanged, StrField("consumerGroup", "cg"))); err != nil {
		t.Fatal(err)
	}
	got := conn.frames(t)
	if len(got) != 1 || !got[0].IsOneway() || got[0].IsResponse() || got[0].Opaque != 1 || ch.Pending() != 0 {
		t.Fatalf("frames %v, pending %d", got, ch.Pending())
	}
}

func TestDispatcher(t *testing.T) {
	d := NewDispatcher()
	d.Handle(PullMessage, func(*Channel, *Command) {})
	d.Handle(HeartBeat, func(*Channel, *Command) {})
	if got := d.Codes(); !slices.Equal(got, []RequestCode{PullMessage, HeartBeat}) {
		t.Fatalf("codes %v", got)
	}
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("duplicate", func() { d.Handle(HeartBeat, func(*Channel, *Command) {}) })
	mustPanic("nil", func() { d.Handle(SendMessage, nil) })
	var none *Dispatcher
	if _, ok := none.Handler(PullMessage); ok || none.Codes() != nil {
		t.Fatal("nil dispatcher has handlers")
	}
	var zero Dispatcher
	zero.Handle(SendMessage, func(*Channel, *Command) {})
	if _, ok := zero.Handler(SendMessage); !ok {
		t.Fatal("zero Dispatcher did not register")
	}
}

// A client and a server over the fake network, every frame split into
// single bytes: requests both ways, responses, hooks, and closing.
func TestServerAndDial(t *testing.T) {
	loop := &fakeLoop{}
	network := newFakeNet(loop)
	network.byteWise = true

	serverDisp := NewDispatcher()
	serverDisp.Handle(HeartBeat, func(ch *Channel, req *Command) {
		ch.Attachment = req.ExtFields.Str("clientID")
		ch.Respond(req, NewResponse(req, Success, ""))
		// The broker pushes a notification down the client's connection.
		ch.InvokeOneway(NewRequest(NotifyConsumerIdsChanged, StrField("consumerGroup", "cg")))
	})
	stats := new(Stats)
	srv, err := NewServer(network, loop, nil, "127.0.0.1:10911", serverDisp, Options{Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	var opened []uint64
	var closedIDs []string
	srv.OnChannelOpen(func(ch *Channel) { opened = append(opened, ch.ID()) })
	srv.OnChannelClose(func(ch *Channel, err error) { closedIDs = append(closedIDs, ch.Attachment.(string)) })

	clientDisp := NewDispatcher()
	var notified []string
	clientDisp.Handle(NotifyConsumerIdsChanged, func(ch *Channel, req *Command) {
		notified = append(notified, req.ExtFields.Str("consumerGroup"))
		ch.Respond(req, NewResponse(req, Success, "")) // oneway: goes nowhere
	})

	var clients []*Channel
	for _, id := range []string{"c1", "c2"} {
		client := Dial(network, loop, nil, srv.Addr(), clientDisp, Options{})
		clients = append(clients, client)
		var got *Command
		client.Invoke(NewRequest(HeartBeat, StrField("clientID", id)), 3*time.Second, func(resp *Command, err error) {
			if err != nil {
				t.Fatalf("%s: heartbeat: %v", id, err)
			}
			got = resp
		})
		loop.Run()
		if got == nil || got.Code != int32(Success) {
			t.Fatalf("%s: heartbeat response %v", id, got)
		}
	}
	if !slices.Equal(notified, []string{"cg", "cg"}) {
		t.Fatalf("notified %v", notified)
	}
	chans := srv.Channels()
	if len(chans) != 2 || chans[0].Attachment != "c1" || chans[1].Attachment != "c2" || !slices.Equal(opened, []uint64{chans[0].ID(), chans[1].ID()}) {
		t.Fatalf("channels %v, opened %v", chans, opened)
	}
	if ch, ok := srv.Channel(chans[1].ID()); !ok || ch != chans[1] {
		t.Fatal("Channel(id) did not find the channel")
	}
	if stats.RequestsIn != 2 || stats.ResponsesOut != 2 || stats.RequestsOut != 2 {
		t.Fatalf("server stats %+v", stats)
	}

	// The client goes away: the server's hook runs and the channel is gone.
	clients[0].Close()
	loop.Run()
	if !slices.Equal(closedIDs, []string{"c1"}) || len(srv.Channels()) != 1 {
		t.Fatalf("closed %v, channels %v", closedIDs, srv.Channels())
	}

	// The server closes: the remaining client's pending call fails.
	var pendingErr error
	clients[1].Invoke(NewRequest(9999), 0, func(_ *Command, err error) { pendingErr = err })
	srv.Close()
	loop.Run()
	if !errors.Is(pendingErr, ErrChannelClosed) || !clients[1].Closed() {
		t.Fatalf("pending err %v, client closed %v", pendingErr, clients[1].Closed())
	}
	if !slices.Equal(closedIDs, []string{"c1", "c2"}) || len(srv.Channels()) != 0 {
		t.Fatalf("closed %v, channels %v", closedIDs, srv.Channels())
	}
}

func TestDialFailure(t *testing.T) {
	loop := &fakeLoop{}
	network := newFakeNet(loop)
	client := Dial(network, loop, nil, "127.0.0.1:9876", nil, Options{})
	var callErr, hookErr error
	client.Invoke(NewRequest(GetRouteinfoByTopic, StrField("topic", "t")), 6*time.Second, func(_ *Command, err error) { callErr = err })
	client.OnClose(func(_ *Channel, err error) { hookErr = err })
	loop.Run()
	if !errors.Is(callErr, ErrChannelClosed) || hookErr == nil || !client.Closed() {
		t.Fatalf("call err %v, hook err %v", callErr, hookErr)
	}
}

// A malformed frame from a peer closes the connection at the framing layer:
// the Framer's error reaches the host, which closes the connection.
func TestOversizedFrameClosesConnection(t *testing.T) {
	loop := &fakeLoop{}
	network := newFakeNet(loop)
	srv, err := NewServer(network, loop, nil, "srv:1", nil, Options{MaxFrameBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	var closeErr error
	srv.OnChannelClose(func(_ *Channel, err error) { closeErr = err })
	client := Dial(network, loop, nil, "srv:1", nil, Options{})
	client.Invoke(NewRequest(SendMessage, StrField("body", strings.Repeat("x", 100))), time.Second, func(*Command, error) {})
	loop.Run()
	if !errors.Is(closeErr, ErrFrameTooLarge) || !client.Closed() {
		t.Fatalf("server close err %v, client closed %v", closeErr, client.Closed())
	}
}
