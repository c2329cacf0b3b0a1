package faults

// Bug is a planted bug: a deliberately broken behaviour behind a fault site
// that only the simulator switches on (host.Faults is inert in real mode).
// A checker that no planted bug trips proves nothing; each bug names the
// checker that must catch it and what a run needs for it to matter.
type Bug struct {
	Name string
	// Site is the fault site (or simulator switch) the bug sits behind.
	Site string
	// What the bug does, in one line.
	Description string
	// Checker is the checker that must report it.
	Checker string
	// Needs says what the run must contain for the bug to be reachable;
	// mqsim forces it when the bug is on.
	Needs Needs
}

// Needs are the run properties a bug needs.
type Needs struct {
	SyncFlush  bool // the brokers flush with SYNC_FLUSH
	AsyncFlush bool // the brokers flush with ASYNC_FLUSH
	PowerLoss  bool // power losses happen
	Crash      bool // process crashes happen
	Restart    bool // consumers restart (offsets are re-read)
}

// Bugs is the catalog, in the order `mqsim bugs` lists it.
var Bugs = []Bug{
	{
		Name: "ack-before-sync", Site: "bug/ack-before-sync",
		Description: "acknowledge a SYNC_FLUSH send before the sync that covers it",
		Checker:     "durability", Needs: Needs{SyncFlush: true, PowerLoss: true},
	},
	{
		Name: "dispatch-before-sync", Site: "bug/dispatch-before-sync",
		Description: "make SYNC_FLUSH messages visible to consumers before their sync",
		Checker:     "reads", Needs: Needs{SyncFlush: true, PowerLoss: true},
	},
	{
		Name: "recovery-skips-crc", Site: "bug/recovery-skips-crc",
		Description: "skip the body and record CRC checks during recovery",
		Checker:     "durability", Needs: Needs{PowerLoss: true},
	},
	{
		Name: "pull-skips-offset", Site: "bug/pull-skips-offset",
		Description: "serve a pull from one past the requested offset",
		Checker:     "completeness",
	},
	{
		Name: "truncate-keeps-tail", Site: "bug/truncate-keeps-tail",
		Description: "cut a torn tail without zeroing what follows it",
		Checker:     "durability", Needs: Needs{PowerLoss: true},
	},
	{
		Name: "commit-past-unprocessed", Site: "bug/commit-past-unprocessed",
		Description: "commit a consumer offset past messages not yet processed",
		Checker:     "completeness", Needs: Needs{Restart: true},
	},
	{
		Name: "process-crash-drops-page-cache", Site: "bug/process-crash-drops-page-cache",
		Description: "the simulator loses the page cache on a process crash",
		Checker:     "durability", Needs: Needs{AsyncFlush: true, Crash: true},
	},
}

// LookupBug returns the bug called name.
func LookupBug(name string) (Bug, bool) {
	for _, b := range Bugs {
		if b.Name == name {
			return b, true
		}
	}
	return Bug{}, false
}
