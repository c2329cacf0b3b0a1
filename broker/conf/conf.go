package conf

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File is a parsed properties file. Its accessors record which keys were
// asked for, so that Unused can list the rest.
type File struct {
	values map[string]string
	lines  map[string]int
	used   map[string]bool
}

// Parse reads Java properties text: one key=value (or key:value, or
// "key value") per line, # and ! comments, surrounding blanks trimmed, and a
// trailing backslash continuing a line. Escapes other than line
// continuation are not interpreted: RocketMQ's values never need them.
func Parse(text string) (*File, error) {
	f := &File{values: map[string]string{}, lines: map[string]int{}, used: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo, startLine := 0, 0
	var pending strings.Builder
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 {
			startLine = lineNo
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		pending.WriteString(line)
		entry := pending.String()
		pending.Reset()
		i := strings.IndexAny(entry, "=: \t")
		if i <= 0 {
			return nil, fmt.Errorf("conf: line %d: %q is not key=value", startLine, entry)
		}
		key := entry[:i]
		val := strings.TrimSpace(entry[i+1:])
		if len(val) > 0 && (val[0] == '=' || val[0] == ':') && (entry[i] == ' ' || entry[i] == '\t') {
			val = strings.TrimSpace(val[1:])
		}
		f.values[key] = val
		f.lines[key] = startLine
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("conf: line %d: continuation at end of file", startLine)
	}
	return f, nil
}

// Set overrides a key, as a command-line flag does.
func (f *File) Set(key, value string) { f.values[key] = value }

// Has reports whether key is set.
func (f *File) Has(key string) bool {
	f.used[key] = true
	_, ok := f.values[key]
	return ok
}

// String returns key's value, or def.
func (f *File) String(key, def string) string {
	f.used[key] = true
	if v, ok := f.values[key]; ok {
		return v
	}
	return def
}

func (f *File) where(key string) string {
	if n, ok := f.lines[key]; ok {
		return fmt.Sprintf("line %d: ", n)
	}
	return ""
}

// Int64 returns key's value as an integer, or def.
func (f *File) Int64(key string, def int64) (int64, error) {
	f.used[key] = true
	v, ok := f.values[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("conf: %s%s=%q is not an integer", f.where(key), key, v)
	}
	return n, nil
}

// Int returns key's value as an int, or def.
func (f *File) Int(key string, def int) (int, error) {
	n, err := f.Int64(key, int64(def))
	if err != nil {
		return 0, err
	}
	if int64(int(n)) != n {
		return 0, fmt.Errorf("conf: %s%s=%d is out of range", f.where(key), key, n)
	}
	return int(n), nil
}

// Bool returns key's value (true or false, any case), or def.
func (f *File) Bool(key string, def bool) (bool, error) {
	f.used[key] = true
	v, ok := f.values[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("conf: %s%s=%q is neither true nor false", f.where(key), key, v)
}

// Float returns key's value as a number, or def.
func (f *File) Float(key string, def float64) (float64, error) {
	f.used[key] = true
	v, ok := f.values[key]
	if !ok {
		return def, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("conf: %s%s=%q is not a number", f.where(key), key, v)
	}
	return x, nil
}

// Millis returns key's value, an integer count of unit, as a duration; def
// when absent. RocketMQ writes most intervals as milliseconds and
// fileReservedTime as hours.
func (f *File) Millis(key string, unit, def time.Duration) (time.Duration, error) {
	n, err := f.Int64(key, -1)
	if err != nil {
		return 0, err
	}
	if !f.Has(key) {
		return def, nil
	}
	if n < 0 {
		return 0, fmt.Errorf("conf: %s%s=%d must not be negative", f.where(key), key, n)
	}
	return time.Duration(n) * unit, nil
}

// Unused lists, sorted, the keys set in the file that no accessor asked
// for.
func (f *File) Unused() []string {
	var out []string
	for k := range f.values {
		if !f.used[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
