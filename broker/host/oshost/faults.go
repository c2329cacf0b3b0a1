package oshost

import (
	"os"

	"github.com/pingcap/failpoint"

	"github.com/thrustmq/thrust/broker/host"
)

// FailpointPrefix names the failpoints behind fault sites: site "store/x"
// is failpoint "thrust/store/x".
const FailpointPrefix = "thrust/"

// failpointFaults answers fault sites from pingcap/failpoint, for
// real-process chaos runs: GO_FAILPOINTS="thrust/store/crash-after-append=
// 100*off->return(true)" makes the 101st put crash the broker between its
// append and its sync. (failpoint draws from the global random source and
// sleeps on the real clock, which is why the simulator never uses it: its
// sites draw from the seeded streams.)
type failpointFaults struct{}

func (failpointFaults) Fire(site string) bool {
	// An "off" term answers (nil, nil): only a value fires the site.
	v, err := failpoint.Eval(FailpointPrefix + site)
	if err != nil || v == nil {
		return false
	}
	b, ok := v.(bool)
	return !ok || b
}

// realFaults is failpoint when GO_FAILPOINTS configures any, and otherwise
// the inert NoFaults, so that a broker without failpoints pays nothing at
// its sites.
func realFaults() host.Faults {
	if os.Getenv("GO_FAILPOINTS") != "" {
		return failpointFaults{}
	}
	return host.NoFaults{}
}
