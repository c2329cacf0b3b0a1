package broker

import (
	"errors"
	"fmt"

	"github.com/thrustmq/thrust/broker/remoting"
)

// fieldReader reads a request's extFields, keeping the first error, so a
// header parses in a straight line and reports the field at fault.
type fieldReader struct {
	f   remoting.Fields
	err error
}

func (r *fieldReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// str reads a required field (Java's @CFNotNull: absent is an error).
func (r *fieldReader) str(key string) string {
	v, ok := r.f.Get(key)
	if !ok {
		r.fail(fmt.Errorf("the custom field <%s> is null", key))
	}
	return v
}

func (r *fieldReader) optStr(key string) string { return r.f.Str(key) }

func (r *fieldReader) i64(key string) int64 {
	v, err := r.f.Int64(key)
	r.fail(err)
	return v
}

func (r *fieldReader) i32(key string) int32 {
	v, err := r.f.Int32(key)
	r.fail(err)
	return v
}

// optI32 reads an optional integer: absent is 0, malformed is an error.
func (r *fieldReader) optI32(key string) int32 {
	if _, ok := r.f.Get(key); !ok {
		return 0
	}
	return r.i32(key)
}

func (r *fieldReader) optI64(key string) int64 {
	if _, ok := r.f.Get(key); !ok {
		return 0
	}
	return r.i64(key)
}

func (r *fieldReader) optBool(key string) bool {
	if _, ok := r.f.Get(key); !ok {
		return false
	}
	v, err := r.f.Bool(key)
	r.fail(err)
	return v
}

// respondError answers req with code and remark.
func respondError(ch *remoting.Channel, req *remoting.Command, code remoting.ResponseCode, remark string) {
	ch.Respond(req, remoting.NewResponse(req, code, remark))
}

var errNoBody = errors.New("request has no body")
