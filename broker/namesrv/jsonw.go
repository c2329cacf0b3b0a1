package namesrv

import (
	"cmp"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The name server writes its JSON by hand rather than with encoding/json, for
// three reasons: keys must come out sorted exactly as fastjson sorts them (so
// that our bodies match a Java name server's byte for byte), maps keyed by
// broker id must sort numerically and be quoted, and nothing may be escaped
// that fastjson leaves alone (encoding/json turns '<' into \u003c). The
// writers below are small and have no failure modes.

// appendJSONString appends s as a JSON string. Quotes, backslashes and
// control characters are escaped; everything else is written as UTF-8, as
// fastjson does. Invalid UTF-8 becomes U+FFFD, so the output is always valid
// JSON whatever a peer registered.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xf))
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }

// appendJSONInt appends a JSON number.
func appendJSONInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// appendStringArray appends ss, in the given order, as a JSON array.
func appendStringArray(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendStringMap appends m as a JSON object with sorted keys.
func appendStringMap(dst []byte, m map[string]string) []byte {
	dst = append(dst, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

// sortedKeys returns m's keys in order: the only way a map may reach the
// wire, a log or a file.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// standardJSON rewrites the non-standard JSON that fastjson produces into
// standard JSON, so that encoding/json can read what a Java peer sends.
//
// NB: fastjson writes maps with non-string keys without quotes:
// Map<Long,String> brokerAddrs comes out as {0:"10.0.0.1:10911"} (a Java name
// server does this for every client older than 4.9.4, the Go client
// included), and a Java broker's static-topic mapping tables key by integer
// too. Every object key that is not a string is quoted here; nothing else
// changes, so standard JSON passes through byte for byte. Malformed input is
// left for encoding/json to report.
func standardJSON(in []byte) []byte {
	var (
		out       []byte // nil until the first change: most input is standard
		copied    int    // in[:copied] has been dealt with in out
		stack     []byte // open containers, '{' or '['
		expectKey bool   // the next token is an object key
	)
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '"':
			// Skip the string, escapes included; a key or a value, it is
			// already standard.
			j := i + 1
			for j < len(in) && in[j] != '"' {
				if in[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			expectKey = false
		case c == '{':
			stack = append(stack, c)
			expectKey = true
			i++
		case c == '[':
			stack = append(stack, c)
			expectKey = false
			i++
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
			i++
		case c == ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
			i++
		case expectKey:
			// A bare key: everything up to the colon (or blank) that ends it.
			j := i
			for j < len(in) && in[j] != ':' && in[j] != ' ' && in[j] != '\t' && in[j] != '\n' && in[j] != '\r' && in[j] != '}' {
				j++
			}
			if out == nil {
				out = make([]byte, 0, len(in)+16)
			}
			out = append(out, in[copied:i]...)
			out = appendJSONString(out, string(in[i:j]))
			copied = j
			i = j
			expectKey = false
		default:
			i++
		}
	}
	if out == nil {
		return in
	}
	return append(out, in[copied:]...)
}
