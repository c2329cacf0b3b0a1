package remoting

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON header codec is written by hand, for three reasons: decoding is on
// every request's path and reflection-based decoders cost several times more;
// encoding must put keys in a fixed order and keep extFields in slice order,
// which encoding/json's maps would not; and the decoder must be lenient in
// exactly the ways peers need (numbers as extFields values, language as a
// name or a number) while strict about JSON syntax.
//
// Decoding agrees with encoding/json wherever encoding/json accepts a header
// of the same shape (FuzzJSONHeader checks this): the same escapes, the same
// replacement of invalid UTF-8 and lone surrogates by U+FFFD, the same nesting
// limit. It differs on purpose in being case-sensitive about keys (Java is),
// in what it tolerates inside extFields, and in checking even the values that
// a repeated key overrides.

// maxJSONNestingDepth is encoding/json's limit on nested objects and arrays,
// counting the header object itself as 1.
const maxJSONNestingDepth = 10000

// jsonPlain marks the ASCII bytes that stand for themselves inside a JSON
// string, both when decoding and when encoding.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Eight bytes at a time, plainWord tells whether any byte is not plain:
// a quote, a backslash, a control character or a non-ASCII byte. It uses the
// classic bit tricks: (x - 0x01..) & ^x & 0x80.. is non-zero exactly when
// some byte of x is zero (or, with 0x20.. for 0x01.., below 0x20). Scanning
// string runs this way roughly halves the decoder's time on real headers,
// whose values are long runs of plain ASCII.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

func plainWord(w uint64) bool {
	quote := w ^ (lowBits * '"')
	backslash := w ^ (lowBits * '\\')
	special := (w-lowBits*0x20)&^w | (quote-lowBits)&^quote | (backslash-lowBits)&^backslash | w
	return special&highBits == 0
}

// plainPrefix returns how many leading bytes of s are plain.
func plainPrefix(s []byte) int {
	i := 0
	for i+8 <= len(s) && plainWord(binary.LittleEndian.Uint64(s[i:])) {
		i += 8
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// plainPrefixString is plainPrefix for a string.
func plainPrefixString(s string) int {
	i := 0
	for i+8 <= len(s) {
		// The compiler merges these byte loads into one.
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if !plainWord(w) {
			break
		}
		i += 8
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// jsonDecoder decodes one header.
//
// Every string it keeps (extFields keys and values, the remark) is written
// to one strings.Builder, the arena, and taken as a substring of it at once:
// a header costs one allocation for all its strings rather than one each.
// That is sound because a Builder never changes bytes it has written; should
// it outgrow its buffer, earlier substrings keep the old one alive.
type jsonDecoder struct {
	s      []byte
	i      int
	arena  strings.Builder
	fields Fields
	cmd    Command

	codeKnown, opaqueKnown, flagKnown bool
}

// initialFieldsCap fits every header the Go client sends (SEND has 14
// fields) in one allocation.
const initialFieldsCap = 16

// decodeJSONHeader decodes a JSON header. On failure it reports how much of
// the header it understood.
func decodeJSONHeader(h []byte) (*Command, *DecodeError) {
	d := jsonDecoder{s: h}
	if err := d.header(); err != nil {
		return nil, &DecodeError{
			Code: d.cmd.Code, CodeKnown: d.codeKnown,
			Opaque: d.cmd.Opaque, OpaqueKnown: d.opaqueKnown,
			Flag: d.cmd.Flag, FlagKnown: d.flagKnown,
			Err: err,
		}
	}
	cmd := new(Command)
	*cmd = d.cmd
	if len(d.fields) > 0 {
		cmd.ExtFields = d.fields
	}
	return cmd, nil
}

func (d *jsonDecoder) errorf(at int, format string, args ...any) error {
	return errorf(ErrMalformedHeader, "remoting: json header at byte %d: "+format, append([]any{at}, args...)...)
}

// ws skips JSON whitespace.
func (d *jsonDecoder) ws() {
	s, i := d.s, d.i
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	d.i = i
}

// peek returns the next byte, or 0 at the end (0 never starts a JSON token,
// so callers treat it as "unexpected").
func (d *jsonDecoder) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *jsonDecoder) unexpected(what string) error {
	if d.i >= len(d.s) {
		return d.errorf(d.i, "unexpected end, want %s", what)
	}
	return d.errorf(d.i, "unexpected %q, want %s", d.s[d.i], what)
}

func (d *jsonDecoder) expect(c byte, what string) error {
	d.ws()
	if d.peek() != c {
		return d.unexpected(what)
	}
	d.i++
	return nil
}

// header decodes the top-level object.
func (d *jsonDecoder) header() error {
	if err := d.expect('{', "'{' opening the header"); err != nil {
		return err
	}
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			if err := d.member(); err != nil {
				return err
			}
			d.ws()
			c := d.peek()
			if c == ',' {
				d.i++
				continue
			}
			if c == '}' {
				d.i++
				break
			}
			return d.unexpected("',' or '}' after a header field")
		}
	}
	d.ws()
	if d.i != len(d.s) {
		return d.errorf(d.i, "data after the header object")
	}
	return nil
}

// member decodes one "key": value of the header object.
func (d *jsonDecoder) member() error {
	d.ws()
	if d.peek() != '"' {
		return d.unexpected("a quoted key")
	}
	key, err := d.token()
	if err != nil {
		return err
	}
	if err := d.expect(':', "':' after a key"); err != nil {
		return err
	}
	d.ws()
	// A repeated key overrides the earlier one, as in encoding/json and
	// fastjson.
	switch {
	case string(key) == "code":
		v, set, err := d.int32Value("code")
		if set {
			d.cmd.Code, d.codeKnown = v, true
		}
		return err
	case string(key) == "opaque":
		v, set, err := d.int32Value("opaque")
		if set {
			d.cmd.Opaque, d.opaqueKnown = v, true
		}
		return err
	case string(key) == "flag":
		v, set, err := d.int32Value("flag")
		if set {
			d.cmd.Flag, d.flagKnown = v, true
		}
		return err
	case string(key) == "version":
		v, set, err := d.int32Value("version")
		if set {
			d.cmd.Version = v
		}
		return err
	case string(key) == "language":
		return d.language()
	case string(key) == "remark":
		return d.remarkValue()
	case string(key) == "extFields":
		return d.extFields()
	}
	// serializeTypeCurrentRPC (which Java sends) and anything else.
	return d.skipValue(1)
}

// token reads a string whose decoded bytes are only compared, never kept
// (keys, language names). A string without escapes or non-ASCII bytes, the
// usual case, is returned in place; any other is decoded into a fresh slice.
func (d *jsonDecoder) token() ([]byte, error) {
	for j := d.i + 1; j < len(d.s); j++ {
		c := d.s[j]
		if c == '"' {
			tok := d.s[d.i+1 : j]
			d.i = j + 1
			return tok, nil
		}
		if !jsonPlain[c] {
			break
		}
	}
	tmp := jsonDecoder{s: d.s, i: d.i}
	tok, err := tmp.str()
	d.i = tmp.i
	return []byte(tok), err
}

// int32Value reads an integer that must fit an int32, or null (set is then
// false: encoding/json leaves the field alone for null, and so does this).
// Like encoding/json into an int32, a fraction or exponent is an error even
// when its value is whole.
func (d *jsonDecoder) int32Value(name string) (v int32, set bool, err error) {
	if d.peek() == 'n' {
		return 0, false, d.literal("null")
	}
	at := d.i
	raw, err := d.number()
	if err != nil {
		return 0, false, err
	}
	n, ok := parseJSONInt(raw, -1<<31, 1<<31-1)
	if !ok {
		return 0, false, d.errorf(at, "%s %s is not an int32", name, raw)
	}
	return int32(n), true, nil
}

// parseJSONInt parses raw, a valid JSON number, as an integer in [lo, hi].
func parseJSONInt(raw []byte, lo, hi int64) (int64, bool) {
	neg := raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	// JSON forbids leading zeros, so more than 19 digits overflow int64 and
	// are out of any range asked here.
	if len(digits) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false // a fraction or an exponent
		}
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false // past int64
		}
	}
	if neg {
		n = -n
	}
	return n, n >= lo && n <= hi
}

// language reads the sender's language: an enum name, as Java and Go send
// it, or its number, which fastjson also accepts. An unknown name becomes
// LanguageOther rather than an error: the field is informational, and a
// newer client's language must not make its requests fail.
func (d *jsonDecoder) language() error {
	switch c := d.peek(); {
	case c == 'n':
		return d.literal("null")
	case c == '"':
		name, err := d.token()
		if err != nil {
			return err
		}
		lang, ok := languageByName(name)
		if !ok {
			lang = LanguageOther
		}
		d.cmd.Language = lang
		return nil
	case c == '-' || isDigit(c):
		at := d.i
		raw, err := d.number()
		if err != nil {
			return err
		}
		n, ok := parseJSONInt(raw, 0, 255)
		if !ok {
			return d.errorf(at, "language %s is not a language code", raw)
		}
		d.cmd.Language = LanguageCode(n)
		return nil
	}
	return d.unexpected("a language name or code")
}

func (d *jsonDecoder) remarkValue() error {
	switch d.peek() {
	case 'n':
		d.cmd.Remark = ""
		return d.literal("null")
	case '"':
		remark, err := d.str()
		d.cmd.Remark = remark
		return err
	}
	return d.unexpected("a string or null remark")
}

// extFields reads the custom header. Values should be strings, and Thrust
// only ever sends strings, but a number or a boolean is kept as its text and
// a null drops the key, as Java's fastjson-based decoding would.
func (d *jsonDecoder) extFields() error {
	d.fields = d.fields[:0]
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '{' {
		return d.unexpected("an extFields object or null")
	}
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.peek() != '"' {
			return d.unexpected("a quoted extFields key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':', "':' after an extFields key"); err != nil {
			return err
		}
		d.ws()
		var value string
		keep := true
		switch c := d.peek(); {
		case c == '"':
			value, err = d.str()
		case c == 't':
			value, err = "true", d.literal("true")
		case c == 'f':
			value, err = "false", d.literal("false")
		case c == 'n':
			err = d.literal("null")
			d.dropField(key)
			keep = false
		case c == '-' || isDigit(c):
			var raw []byte
			if raw, err = d.number(); err == nil {
				value = d.keep(raw)
			}
		default:
			return d.unexpected("a string, number, boolean or null extFields value")
		}
		if err != nil {
			return err
		}
		if keep {
			if len(d.fields) == MaxExtFields {
				return d.errorf(d.i, "more than %d extFields", MaxExtFields)
			}
			if d.fields == nil {
				d.fields = make(Fields, 0, initialFieldsCap)
			}
			d.fields = append(d.fields, Field{key, value})
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.unexpected("',' or '}' in extFields")
		}
	}
}

// dropField removes every earlier field named key: a later null overrides
// them, as a later put of null would in Java's map.
func (d *jsonDecoder) dropField(key string) {
	d.fields = slices.DeleteFunc(d.fields, func(f Field) bool { return f.Key == key })
}

// keep copies b into the arena.
func (d *jsonDecoder) keep(b []byte) string {
	d.growArena()
	start := d.arena.Len()
	d.arena.Write(b)
	return d.arena.String()[start:]
}

// growArena sizes the arena on first use. What remains of the header bounds
// what its strings decode to, but for invalid UTF-8 (one byte becomes three),
// which the Builder copes with by growing.
func (d *jsonDecoder) growArena() {
	if d.arena.Cap() == 0 {
		d.arena.Grow(len(d.s) - d.i)
	}
}

func (d *jsonDecoder) literal(lit string) error {
	if len(d.s)-d.i < len(lit) || string(d.s[d.i:d.i+len(lit)]) != lit {
		return d.unexpected(lit)
	}
	d.i += len(lit)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads a JSON number and returns its text.
func (d *jsonDecoder) number() ([]byte, error) {
	start, i := d.i, d.i
	if i < len(d.s) && d.s[i] == '-' {
		i++
	}
	switch {
	case i < len(d.s) && d.s[i] == '0':
		i++
	case i < len(d.s) && isDigit(d.s[i]):
		for i < len(d.s) && isDigit(d.s[i]) {
			i++
		}
	default:
		d.i = i
		return nil, d.unexpected("a digit")
	}
	if i < len(d.s) && d.s[i] == '.' {
		i++
		if i >= len(d.s) || !isDigit(d.s[i]) {
			d.i = i
			return nil, d.unexpected("a digit after '.'")
		}
		for i < len(d.s) && isDigit(d.s[i]) {
			i++
		}
	}
	if i < len(d.s) && (d.s[i] == 'e' || d.s[i] == 'E') {
		i++
		if i < len(d.s) && (d.s[i] == '+' || d.s[i] == '-') {
			i++
		}
		if i >= len(d.s) || !isDigit(d.s[i]) {
			d.i = i
			return nil, d.unexpected("a digit in the exponent")
		}
		for i < len(d.s) && isDigit(d.s[i]) {
			i++
		}
	}
	d.i = i
	return d.s[start:i], nil
}

// str decodes the string at d.i (which is '"') into the arena.
func (d *jsonDecoder) str() (string, error) {
	d.growArena()
	start := d.arena.Len()
	s := d.s // a local lets the compiler drop bounds checks in the scan
	i := d.i + 1
	for {
		run := i
		i += plainPrefix(s[i:])
		d.arena.Write(s[run:i])
		if i >= len(s) {
			return "", d.errorf(d.i, "unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			d.i = i + 1
			return d.arena.String()[start:], nil
		case c == '\\':
			n, err := d.escape(i)
			if err != nil {
				return "", err
			}
			i += n
		case c < 0x20:
			return "", d.errorf(i, "control character %#02x in a string", c)
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				d.arena.WriteRune(utf8.RuneError)
			} else {
				d.arena.Write(s[i : i+size])
			}
			i += size
		}
	}
}

// escape decodes the escape sequence at i into the arena and returns its
// length. Surrogates are handled as encoding/json does: a valid pair becomes
// one rune, anything else U+FFFD.
func (d *jsonDecoder) escape(i int) (int, error) {
	if i+1 >= len(d.s) {
		return 0, d.errorf(i, "unterminated escape")
	}
	var c byte
	switch d.s[i+1] {
	case '"', '\\', '/':
		c = d.s[i+1]
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		r, ok := hex4(d.s[i+2:])
		if !ok {
			return 0, d.errorf(i, `invalid \u escape`)
		}
		n := 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(-1), false
			if rest := d.s[i+6:]; len(rest) >= 2 && rest[0] == '\\' && rest[1] == 'u' {
				r2, ok = hex4(rest[2:])
			}
			if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
				r, n = dec, 12
			} else {
				r = utf8.RuneError
			}
		}
		d.arena.WriteRune(r)
		return n, nil
	default:
		return 0, d.errorf(i, "invalid escape %q", d.s[i+1])
	}
	d.arena.WriteByte(c)
	return 2, nil
}

// hex4 parses the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipString checks the string at d.i and moves past it without decoding.
// UTF-8 validity is not checked: encoding/json does not reject it either.
func (d *jsonDecoder) skipString() error {
	start := d.i
	for i := d.i + 1; i < len(d.s); {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(d.s) {
				return d.errorf(i, "unterminated escape")
			}
			switch d.s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(d.s[i+2:]); !ok {
					return d.errorf(i, `invalid \u escape`)
				}
				i += 6
			default:
				return d.errorf(i, "invalid escape %q", d.s[i+1])
			}
		case c < 0x20:
			return d.errorf(i, "control character %#02x in a string", c)
		default:
			i++
		}
	}
	return d.errorf(start, "unterminated string")
}

// skipValue checks and skips any JSON value. depth is the nesting level of
// the container holding the value (the header object is 1). It keeps its
// own stack rather than recursing, so a deeply nested value costs a byte of
// heap per level, not a stack frame.
func (d *jsonDecoder) skipValue(depth int) error {
	var stackBuf [16]byte
	stack := stackBuf[:0] // '{' or '[' per open container
	for {
		d.ws()
		switch c := d.peek(); {
		case c == '{' || c == '[':
			if depth+len(stack)+1 > maxJSONNestingDepth {
				return d.errorf(d.i, "nesting deeper than %d", maxJSONNestingDepth)
			}
			stack = append(stack, c)
			d.i++
			d.ws()
			if c == '{' && d.peek() == '}' || c == '[' && d.peek() == ']' {
				d.i++
				stack = stack[:len(stack)-1]
				break // an empty container is a whole value
			}
			if c == '{' {
				if err := d.skipMemberKey(); err != nil {
					return err
				}
			}
			continue // the first element's value
		case c == '"':
			if err := d.skipString(); err != nil {
				return err
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		case c == '-' || isDigit(c):
			if _, err := d.number(); err != nil {
				return err
			}
		default:
			return d.unexpected("a JSON value")
		}
		// A value has ended: close the containers it ends, then move on
		// to the next element.
		for {
			if len(stack) == 0 {
				return nil
			}
			d.ws()
			top, c := stack[len(stack)-1], d.peek()
			if c == ',' {
				d.i++
				if top == '{' {
					if err := d.skipMemberKey(); err != nil {
						return err
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				d.i++
				stack = stack[:len(stack)-1]
				continue
			}
			if top == '{' {
				return d.unexpected("',' or '}' in an object")
			}
			return d.unexpected("',' or ']' in an array")
		}
	}
}

// skipMemberKey skips `"key":` inside an object being skipped.
func (d *jsonDecoder) skipMemberKey() error {
	d.ws()
	if d.peek() != '"' {
		return d.unexpected("a quoted key")
	}
	if err := d.skipString(); err != nil {
		return err
	}
	return d.expect(':', "':' after a key")
}

// appendJSONHeader appends c's header as JSON with keys in the order a Java
// broker (fastjson, sorted keys, nulls left out) writes them. An empty remark
// and empty extFields are left out, as Java leaves out their nulls.
func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	if len(c.ExtFields) > 0 {
		dst = append(dst, `,"extFields":{`...)
		for i, f := range c.ExtFields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, f.Key)
			dst = append(dst, ':')
			// Always a string, numbers included: the Go client cannot
			// decode anything else (doc.go).
			dst = appendJSONString(dst, f.Value)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"language":`...)
	if c.Language.Known() {
		dst = append(dst, '"')
		dst = append(dst, languageNames[c.Language]...)
		dst = append(dst, '"')
	} else {
		dst = strconv.AppendUint(dst, uint64(c.Language), 10)
	}
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	dst = append(dst, `,"serializeTypeCurrentRPC":"JSON","version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted. Control characters are written as
// \u00XX (0x01 and 0x02 separate message properties, so they are common);
// each byte of invalid UTF-8 becomes \ufffd, as encoding/json does, because
// a JSON text must be valid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		i += plainPrefixString(s[i:])
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
