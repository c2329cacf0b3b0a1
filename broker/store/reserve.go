package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Queue-offset reservations: why ASYNC_FLUSH needs them.
//
// Under ASYNC_FLUSH a message is visible to consumers as soon as it is in
// the page cache. A power loss can then take it back, and RocketMQ's store
// hands its queue offset to the next message: a consumer that had read (or
// committed past) the lost message then skips the new one, which nobody
// will ever deliver. Offsets are positions, and a position once shown must
// never name a different message.
//
// So under ASYNC_FLUSH every queue has a durable reservation: no offset at
// or above it is ever made visible. The reservation is raised ahead of the
// queue (by reserveWindow offsets, from half way), off the loop, so that
// puts almost never wait for it; a put that would pass a reservation not
// yet durable waits, with every later put, until it is. After an unclean
// shutdown, recovery moves each queue's next offset up to its reservation,
// leaving holes (units of size -1 that readers step over) where messages
// may have been lost, so no offset a consumer could have seen is reused.
// A clean shutdown leaves nothing to skip.
const reserveWindow = 1024

type reservations struct {
	path    string
	durable map[topicQueue]int64 // what the file on disk says
	wanted  map[topicQueue]int64 // what the next write will say
	writing bool
	// waiting puts, in log order: their dispatch and acknowledgement wait
	// for a reservation write.
	waiting []reservedPut
}

// reservedPut is an ASYNC_FLUSH put stored and waiting for its offsets to
// be durably reserved.
type reservedPut struct {
	key    topicQueue
	next   int64 // one past its last queue offset
	noUnit bool
	end    int64 // one past its last byte
	res    PutResult
	done   func(PutResult)
}

func (s *Store) reservationsPath() string {
	return filepath.Join(s.cfg.StorePathRootDir, "reservations")
}

func (s *Store) reserving() bool { return s.cfg.FlushDiskType == AsyncFlush }

// loadReservations reads the reservations file, if any.
func (s *Store) loadReservations() error {
	s.res = &reservations{path: s.reservationsPath(), durable: map[topicQueue]int64{}, wanted: map[topicQueue]int64{}}
	f, err := s.env.FS.Open(s.res.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open reservations: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return err
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: read reservations: %w", err)
	}
	var m map[string]int64
	if err := json.Unmarshal(buf, &m); err != nil {
		// Written atomically, so this is damage, not a torn write: start
		// without reservations rather than refuse to run, and say so.
		s.log.Error("store: reservations file is damaged; ignoring it", "err", err)
		return nil
	}
	for k, v := range m {
		i := strings.LastIndexByte(k, '@')
		if i <= 0 {
			continue
		}
		qid, err := strconv.ParseInt(k[i+1:], 10, 32)
		if err != nil || v < 0 {
			continue
		}
		s.res.durable[topicQueue{k[:i], int32(qid)}] = v
	}
	return nil
}

func (r *reservations) encode() []byte {
	m := map[string]int64{}
	for k, v := range r.wanted {
		m[k.topic+"@"+strconv.Itoa(int(k.queueID))] = v
	}
	b, _ := json.Marshal(m) // sorted keys: the file is a function of the state
	return b
}

// skipToReservations is recovery's part, after an unclean shutdown: every
// queue's next offset moves up to its reservation.
func (s *Store) skipToReservations() error {
	keys := make([]topicQueue, 0, len(s.res.durable))
	for k := range s.res.durable {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b topicQueue) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.queueID - b.queueID)
	})
	for _, k := range keys {
		r := s.res.durable[k]
		cq, err := s.consumeQueue(k.topic, k.queueID, true)
		if err != nil {
			return err
		}
		if max := cq.maxOffset(); max < r {
			s.log.Warn("store: skipping queue offsets that may have been shown before an unclean shutdown",
				"topic", k.topic, "queue", k.queueID, "from", max, "to", r)
			if err := cq.skipTo(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserveFor makes sure offsets below next are reserved, asking for more
// ahead of need. It reports whether they already are durably.
func (s *Store) reserveFor(k topicQueue, next int64) bool {
	r := s.res
	d := r.durable[k]
	if next+reserveWindow/2 > r.wanted[k] {
		r.wanted[k] = max(r.wanted[k], next+reserveWindow)
		s.writeReservations()
	}
	return next <= d
}

// writeReservations writes the wanted reservations, one write at a time.
func (s *Store) writeReservations() {
	r := s.res
	if r.writing || s.closed {
		return
	}
	want := make(map[topicQueue]int64, len(r.wanted))
	for k, v := range r.wanted {
		want[k] = v
	}
	data := r.encode()
	tmp := r.path + ".tmp"
	f, err := s.env.FS.Create(tmp)
	if err == nil {
		_, err = f.WriteAt(data, 0)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		s.fence(fmt.Errorf("store: write reservations: %w", err))
		return
	}
	r.writing = true
	f.SyncAsync(func(err error) {
		f.Close()
		r.writing = false
		if s.closed {
			return
		}
		if err == nil {
			err = s.env.FS.Rename(tmp, r.path)
		}
		if err == nil {
			err = s.env.FS.SyncDir(s.cfg.StorePathRootDir)
		}
		if err != nil {
			s.fence(fmt.Errorf("store: write reservations: %w", err))
			return
		}
		for k, v := range want {
			r.durable[k] = max(r.durable[k], v)
		}
		for len(r.waiting) > 0 {
			w := r.waiting[0]
			if !w.noUnit && r.durable[w.key] < w.next {
				break
			}
			r.waiting = r.waiting[1:]
			s.dispatchUpTo(w.end)
			w.done(w.res)
		}
		// Anything wanted meanwhile goes in the next write.
		for k, v := range r.wanted {
			if r.durable[k] < v {
				s.writeReservations()
				break
			}
		}
	})
}

// writeReservationsSync writes the wanted reservations and waits: for
// recovery, before the store accepts writes.
func (s *Store) writeReservationsSync() error {
	data := s.res.encode()
	tmp := s.res.path + ".tmp"
	f, err := s.env.FS.Create(tmp)
	if err != nil {
		return fmt.Errorf("store: write reservations: %w", err)
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		err = s.env.FS.Rename(tmp, s.res.path)
	}
	if err == nil {
		err = s.env.FS.SyncDir(s.cfg.StorePathRootDir)
	}
	if err != nil {
		return fmt.Errorf("store: write reservations: %w", err)
	}
	for k, v := range s.res.wanted {
		s.res.durable[k] = max(s.res.durable[k], v)
	}
	return nil
}
