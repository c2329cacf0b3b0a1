package sim_test

import (
	"fmt"
	"time"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/sim"
)

// lineFramer cuts a stream at newlines.
type lineFramer struct{}

func (lineFramer) FrameLen(p []byte) (int, error) {
	for i, b := range p {
		if b == '\n' {
			return i + 1, nil
		}
	}
	return 0, nil
}

func (lineFramer) Decode(frame []byte) any { return string(frame[:len(frame)-1]) }

type printer struct{ env host.Env }

func (p printer) OnOpen(c host.Conn) {}
func (p printer) OnMessage(c host.Conn, msg any) {
	fmt.Printf("%v %q\n", p.env.Clock.Mono(), msg)
}
func (p printer) OnClose(c host.Conn, err error) { fmt.Println("closed:", err) }

// A world with two hosts: one listens, the other dials, writes two lines
// (split across writes) and closes at once; the closer hears OnClose(nil)
// when its queue has drained, the listener io.EOF after the data. Then a
// power loss takes a file whose directory entry was never synced.
func Example() {
	w := sim.NewWorld(1, sim.Options{})
	srv := w.NewHost("server", sim.HostOptions{})
	cli := w.NewHost("client", sim.HostOptions{})

	senv := srv.Start()
	if _, err := senv.Net.Listen(":9876", lineFramer{}, printer{senv}); err != nil {
		panic(err)
	}
	cenv := cli.Start()
	c := cenv.Net.Dial(srv.Addr()+":9876", lineFramer{}, printer{cenv})
	c.Write([]byte("hello\nwor"))
	c.Write([]byte("ld\n"))
	c.Close()

	f, _ := senv.FS.Create("unsynced")
	f.WriteAt([]byte("gone?"), 0)
	w.Schedule(time.Second, func() { srv.Crash(sim.PowerLoss) })
	w.Run(2 * time.Second)

	_, err := srv.Start().FS.Stat("unsynced")
	fmt.Println("file survived:", err == nil)
	w.Trace("example", "done")
	fmt.Println("digest:", w.Digest()[:16])
	// Output:
	// closed: <nil>
	// 1.051731ms "hello"
	// 1.051731ms "world"
	// closed: EOF
	// file survived: false
	// digest: c143cc9cf6e97098
}
