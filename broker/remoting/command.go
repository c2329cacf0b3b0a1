package remoting

import (
	"errors"
	"strconv"
	"strings"
)

// The identity Thrust puts in the headers it sends.
//
// A Java broker stamps every response (and its own requests) with
// LanguageCode JAVA and its MQVersion ordinal. Thrust does the same, as a
// Java broker of the release whose wire behaviour it follows would, so that
// no peer takes a path reserved for unknown languages: the Go client ignores
// both fields (it cannot even parse "JAVA", see doc.go), while Java clients
// and tools compare the version with their own feature thresholds.
const (
	DefaultLanguage = LanguageJava
	// DefaultVersion is MQVersion.Version.V5_3_3.
	DefaultVersion int32 = 479
)

// Command is one RemotingCommand: a request or a response, with its header
// fields and its body.
//
// After decoding, Body aliases the frame it was cut from, and the strings of
// Remark and ExtFields share one allocation the size of the header. Code that
// keeps a small string for long (a topic name as a map key) should
// strings.Clone it, so that it does not pin the rest.
type Command struct {
	// Code is a RequestCode in a request and a ResponseCode in a response.
	// It is 16 bits on the binary wire.
	Code int32
	// Language is the sender's implementation language.
	Language LanguageCode
	// Version is the sender's MQVersion ordinal; 16 bits on the binary wire.
	Version int32
	// Opaque is the request id that a response echoes.
	Opaque int32
	// Flag holds FlagResponse and FlagOneway.
	Flag int32
	// Remark is a human-readable error text. Empty and absent are the same.
	Remark string
	// ExtFields is the "custom header": every value is a string.
	ExtFields Fields
	// Body is the payload; nil when empty.
	Body []byte
	// Serialize is the header encoding the command arrived in, or will be
	// sent in.
	Serialize SerializeType
}

// IsResponse reports whether c is a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether c is a request that must not be answered.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// String describes c for logs: the code's name, opaque, flag, remark and
// extFields in wire order. It never includes the body.
func (c *Command) String() string {
	var b strings.Builder
	if c.IsResponse() {
		b.WriteString(ResponseCode(c.Code).String())
	} else {
		b.WriteString(RequestCode(c.Code).String())
	}
	b.WriteString(" opaque=")
	b.WriteString(strconv.FormatInt(int64(c.Opaque), 10))
	b.WriteString(" flag=")
	b.WriteString(strconv.FormatInt(int64(c.Flag), 10))
	if c.Remark != "" {
		b.WriteString(" remark=")
		b.WriteString(strconv.Quote(c.Remark))
	}
	for _, f := range c.ExtFields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(f.Value))
	}
	if len(c.Body) > 0 {
		b.WriteString(" body=")
		b.WriteString(strconv.Itoa(len(c.Body)))
		b.WriteString("B")
	}
	return b.String()
}

// NewRequest returns a JSON request with Thrust's identity. The opaque is
// assigned when a Channel sends it. fields are copied.
func NewRequest(code RequestCode, fields ...Field) *Command {
	c := &Command{
		Code:      int32(code),
		Language:  DefaultLanguage,
		Version:   DefaultVersion,
		Serialize: SerializeJSON,
	}
	if len(fields) > 0 {
		c.ExtFields = append(Fields(nil), fields...)
	}
	return c
}

// NewResponse returns the response to req: it carries req's opaque and is
// encoded the way req was (a Go client gets JSON, a Java client configured
// for ROCKETMQ gets binary), with Thrust's identity.
func NewResponse(req *Command, code ResponseCode, remark string) *Command {
	return &Command{
		Code:      int32(code),
		Language:  DefaultLanguage,
		Version:   DefaultVersion,
		Opaque:    req.Opaque,
		Flag:      FlagResponse,
		Remark:    remark,
		Serialize: req.Serialize,
	}
}

// Field is one extFields entry.
type Field struct {
	Key, Value string
}

// StrField returns a string field.
func StrField(key, value string) Field { return Field{key, value} }

// IntField returns a field holding v in decimal, as Java's toString would.
func IntField(key string, v int64) Field { return Field{key, strconv.FormatInt(v, 10)} }

// BoolField returns a field holding "true" or "false".
func BoolField(key string, v bool) Field { return Field{key, strconv.FormatBool(v)} }

// Fields is a command's extFields in wire order.
//
// It is a slice, not a map, so that encoding is deterministic: fields go out
// in the order they were added, never in Go's randomised map order. A header
// has a dozen or two fields, so the linear scans below cost less than hashing.
// When a key occurs more than once (a peer may send that), the last
// occurrence wins, as it does in Java's HashMap.
type Fields []Field

// Get returns the value of key and whether it is present.
func (f Fields) Get(key string) (string, bool) {
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Key == key {
			return f[i].Value, true
		}
	}
	return "", false
}

// Str returns the value of key, or "" when it is absent.
func (f Fields) Str(key string) string {
	v, _ := f.Get(key)
	return v
}

// Has reports whether key is present.
func (f Fields) Has(key string) bool {
	_, ok := f.Get(key)
	return ok
}

// Set replaces the value of key (its last occurrence), or appends the field
// when key is absent.
func (f *Fields) Set(key, value string) {
	s := *f
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Key == key {
			s[i].Value = value
			return
		}
	}
	*f = append(s, Field{key, value})
}

// Add appends a field without looking for key first. Use it when building a
// header whose keys are known to be distinct.
func (f *Fields) Add(key, value string) { *f = append(*f, Field{key, value}) }

// Errors of the typed getters, matched with errors.Is through *FieldError.
var (
	// ErrFieldMissing: the header has no such field. Java's equivalent is
	// "the custom field <x> is null".
	ErrFieldMissing = errors.New("remoting: ext field missing")
	// ErrFieldSyntax: the field's text is not of the asked type.
	ErrFieldSyntax = errors.New("remoting: ext field malformed")
)

// FieldError reports a field that is missing or malformed. Processors turn it
// into a response with the error text as the remark.
type FieldError struct {
	Key   string
	Value string // the offending text, empty when missing
	Want  string // "int64", "int32" or "bool"
	Err   error  // ErrFieldMissing or ErrFieldSyntax
}

// maxQuotedValueBytes bounds how much of a malformed value an error message
// repeats: the peer chose the value, and logs should not grow with it.
const maxQuotedValueBytes = 64

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrFieldMissing) {
		return "remoting: ext field " + strconv.Quote(e.Key) + " missing"
	}
	v := e.Value
	if len(v) > maxQuotedValueBytes {
		v = v[:maxQuotedValueBytes] + "..."
	}
	return "remoting: ext field " + strconv.Quote(e.Key) + " = " + strconv.Quote(v) + ": not a valid " + e.Want
}

func (e *FieldError) Unwrap() error { return e.Err }

// Int64 parses key as a decimal int64, as Java's Long.parseLong would
// (optional sign, no spaces).
func (f Fields) Int64(key string) (int64, error) {
	return f.parseInt(key, 64, "int64")
}

// Int32 parses key as a decimal int32, as Java's Integer.parseInt would.
func (f Fields) Int32(key string) (int32, error) {
	v, err := f.parseInt(key, 32, "int32")
	return int32(v), err
}

func (f Fields) parseInt(key string, bits int, want string) (int64, error) {
	s, ok := f.Get(key)
	if !ok {
		return 0, &FieldError{Key: key, Want: want, Err: ErrFieldMissing}
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, &FieldError{Key: key, Value: s, Want: want, Err: ErrFieldSyntax}
	}
	return v, nil
}

// Bool parses key as "true" or "false", in any case. Java's
// Boolean.parseBoolean reads anything else as false; Thrust reports it
// instead, because a malformed flag is more likely a bug than a "no".
func (f Fields) Bool(key string) (bool, error) {
	s, ok := f.Get(key)
	if !ok {
		return false, &FieldError{Key: key, Want: "bool", Err: ErrFieldMissing}
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true, nil
	case strings.EqualFold(s, "false"):
		return false, nil
	}
	return false, &FieldError{Key: key, Value: s, Want: "bool", Err: ErrFieldSyntax}
}
