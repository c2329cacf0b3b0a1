package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"sort"
)

// Streams hands out named random streams derived from one master seed. Each
// stream is a PCG generator seeded by hashing (seed, name), so the draws of
// one component never shift another's: adding a draw to "broker-1/disk"
// leaves "net" and "workload/producer-3" exactly as they were.
//
// Asking twice for one name returns the same stream, continuing where it
// was.
type Streams struct {
	seed uint64
	m    map[string]*rand.PCG // looked up, never iterated unsorted
	r    map[string]*rand.Rand
}

// NewStreams returns the streams of a master seed.
func NewStreams(seed uint64) *Streams {
	return &Streams{seed: seed, m: map[string]*rand.PCG{}, r: map[string]*rand.Rand{}}
}

// Seed is the master seed.
func (s *Streams) Seed() uint64 { return s.seed }

// Get returns the stream called name, creating it on first use.
func (s *Streams) Get(name string) *rand.Rand {
	if r := s.r[name]; r != nil {
		return r
	}
	hi, lo := StreamSeed(s.seed, name)
	p := rand.NewPCG(hi, lo)
	r := rand.New(p)
	s.m[name] = p
	s.r[name] = r
	return r
}

// StreamSeed is the PCG seed of the stream called name under a master seed:
// the first 16 bytes of SHA-256(seed as 8 little-endian bytes || name).
func StreamSeed(seed uint64, name string) (hi, lo uint64) {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
}

// State digests the current state of every stream handed out, by name in
// sorted order. Two runs of one seed that made the same draws end in the
// same state (FoundationDB's "unseed"): a cheap check that no component drew
// a different number of times.
func (s *Streams) State() string {
	names := make([]string, 0, len(s.m))
	for name := range s.m {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		st, err := s.m[name].MarshalBinary()
		if err != nil {
			panic(err) // PCG's marshaller cannot fail
		}
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(st)
	}
	return hex.EncodeToString(h.Sum(nil))
}
