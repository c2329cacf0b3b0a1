package cluster

import (
	"testing"
	"time"

	"github.com/thrustmq/thrust/sim"
)

func TestBrokerRegistersAndRecoversInTheSimulator(t *testing.T) {
	w := sim.NewWorld(7, sim.Options{Log: t.Output()})
	c := New(w, Options{Brokers: 1})
	c.Start()
	w.RunFor(3 * time.Second)
	if len(c.Errors) > 0 {
		t.Fatal(c.Errors)
	}
	if _, ok := c.Namesrv.Server.Routes().TopicRoute("TBW102"); !ok {
		t.Fatal("the broker's TBW102 route is not in the name server")
	}
	b := c.Brokers[0]
	c.CrashBroker(b, sim.PowerLoss)
	w.RunFor(time.Second)
	c.StartBroker(b)
	w.RunFor(30 * time.Second)
	if len(c.Errors) > 0 || b.Broker == nil {
		t.Fatalf("restart: %v", c.Errors)
	}
}
