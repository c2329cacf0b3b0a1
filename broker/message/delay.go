package message

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultDelayLevels is the default messageDelayLevel: levels 1..18.
const DefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// MaxDelayLevels bounds the number of levels: each level is a queue of
// SCHEDULE_TOPIC_XXXX (queue id = level - 1) with its own timer, and the
// DELAY property is parsed as a small integer.
const MaxDelayLevels = 1000

// ParseDelayLevels parses a messageDelayLevel setting: whitespace-separated
// durations, each a positive decimal integer followed by one unit, s, m, h
// or d. Element i is the delay of level i+1. Java splits on single spaces
// and throws on a doubled one; runs of whitespace are accepted here. Errors
// wrap ErrBadDelayLevels and quote the bad element.
func ParseDelayLevels(s string) ([]time.Duration, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no levels in %q", ErrBadDelayLevels, s)
	}
	if len(fields) > MaxDelayLevels {
		return nil, fmt.Errorf("%w: %d levels, at most %d", ErrBadDelayLevels, len(fields), MaxDelayLevels)
	}
	levels := make([]time.Duration, 0, len(fields))
	for i, f := range fields {
		var unit time.Duration
		switch f[len(f)-1] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return nil, fmt.Errorf("%w: level %d %q: unit must be s, m, h or d", ErrBadDelayLevels, i+1, f)
		}
		num := f[:len(f)-1]
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: level %d %q: want a positive integer before the unit", ErrBadDelayLevels, i+1, f)
		}
		if n > int64(time.Duration(1<<63-1)/unit) {
			return nil, fmt.Errorf("%w: level %d %q: too long", ErrBadDelayLevels, i+1, f)
		}
		levels = append(levels, time.Duration(n)*unit)
	}
	return levels, nil
}
