package broker

import (
	"slices"
	"strconv"
	"testing"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

func halfReq(topic, body, uniq string) *remoting.Command {
	props := "TRAN_MSG\x01true\x02PGROUP\x01pg\x02UNIQ_KEY\x01" + uniq + "\x02"
	return sendReq(topic, 0, body, props)
}

// endReq answers the half whose send response was resp.
func endReq(t *testing.T, resp *remoting.Command, decision int, fromCheck bool) *remoting.Command {
	t.Helper()
	_, phys, err := message.ParseOffsetMsgID(resp.ExtFields.Str("msgId"))
	if err != nil {
		t.Fatalf("half's msgId %q: %v", resp.ExtFields.Str("msgId"), err)
	}
	return remoting.NewRequest(remoting.EndTransaction,
		remoting.StrField("producerGroup", "pg"),
		remoting.StrField("tranStateTableOffset", resp.ExtFields.Str("queueOffset")),
		remoting.IntField("commitLogOffset", phys),
		remoting.IntField("commitOrRollback", int64(decision)),
		remoting.BoolField("fromTransactionCheck", fromCheck),
		remoting.StrField("msgId", resp.ExtFields.Str("transactionId")),
		remoting.StrField("transactionId", resp.ExtFields.Str("transactionId")),
	)
}

// TestTransactionCommitRollbackAndRestart: a half is invisible until
// committed, a committed half is stored once however often its commit
// arrives, a rolled-back half never, and after a restart only the
// undecided half is pending.
func TestTransactionCommitRollbackAndRestart(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.dial()
	bodies := func() []string {
		var out []string
		for _, r := range decodeBody(t, c.call(pullReq("cg", "T", 0, 0, pullSubscription, 0), c.timeout).Body) {
			out = append(out, string(r.Body))
			if string(r.Body) == "plain" {
				continue
			}
			if message.TransactionType(r.SysFlag) != message.SysFlagTransactionCommit {
				t.Errorf("%s stored with transaction type %#x, want COMMIT", r.Body, message.TransactionType(r.SysFlag))
			}
			p := r.ParsedProperties()
			if _, ok := p.Get(message.PropertyRealTopic); ok {
				t.Errorf("%s kept REAL_TOPIC", r.Body)
			}
			if prop(p, message.PropertyTransactionPreparedQueueOffset) == "" {
				t.Errorf("%s does not name its half", r.Body)
			}
		}
		return out
	}
	c.call(sendReq("T", 0, "plain", ""), c.timeout) // creates T; offset 0
	send := func(body string) *remoting.Command {
		r := c.call(halfReq("T", body, "U-"+body), c.timeout)
		if r.Code != 0 || r.ExtFields.Str("transactionId") != "U-"+body {
			t.Fatalf("half %s: %d %s %v", body, r.Code, r.Remark, r.ExtFields)
		}
		return r
	}
	end := func(half *remoting.Command, decision int, fromCheck bool) {
		t.Helper()
		if r := c.call(endReq(t, half, decision, fromCheck), c.timeout); r.Code != 0 {
			t.Fatalf("END_TRANSACTION %d: %d %s", decision, r.Code, r.Remark)
		}
	}
	a, b, u := send("a"), send("b"), send("u")
	if got := bodies(); len(got) != 1 {
		t.Fatalf("before any decision the queue holds %v, want only the plain message", got)
	}
	end(a, transactionCommit, false)
	end(a, transactionCommit, true) // a check answered late: no second copy
	end(b, transactionRollback, false)
	end(b, transactionCommit, true) // the first decision stands
	got := bodies()
	if !slices.Equal(got, []string{"plain", "a"}) {
		t.Fatalf("after commit a, rollback b: %v, want [plain a]", got)
	}
	// A wrong producer group or offset is refused.
	bad := endReq(t, u, transactionCommit, false)
	bad.ExtFields.Set("producerGroup", "other")
	if r := c.call(bad, c.timeout); r.Code != int32(remoting.SystemError) {
		t.Fatalf("END_TRANSACTION from another group: %d %s", r.Code, r.Remark)
	}

	pending := func() []int64 {
		var out []int64
		tb.loop.Do(func() {
			for off := range tb.b.tx.pending {
				out = append(out, off)
			}
		})
		slices.Sort(out)
		return out
	}
	uOff, _ := strconv.ParseInt(u.ExtFields.Str("queueOffset"), 10, 64)
	if got := pending(); !slices.Equal(got, []int64{uOff}) {
		t.Fatalf("pending halves %v, want [%d]", got, uOff)
	}
	tb.loop.Do(func() { tb.b.Shutdown() })
	tb.b = nil
	tb.start()
	c = tb.dial()
	if got := pending(); !slices.Equal(got, []int64{uOff}) {
		t.Fatalf("pending halves after restart %v, want [%d]", got, uOff)
	}
	end(a, transactionCommit, true) // still a no-op after the restart
	end(u, transactionCommit, false)
	if got := bodies(); !slices.Equal(got, []string{"plain", "a", "u"}) {
		t.Fatalf("after the restart and commit u: %v", got)
	}
	if got := pending(); len(got) != 0 {
		t.Fatalf("pending halves %v after every decision", got)
	}
}
