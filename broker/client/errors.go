package client

import (
	"errors"
	"fmt"

	"github.com/thrustmq/thrust/broker/message"
	"github.com/thrustmq/thrust/broker/remoting"
)

// Errors the client reports, possibly wrapped with detail; test with
// errors.Is. Timeouts wrap remoting.ErrTimeout and lost connections
// remoting.ErrChannelClosed, as the remoting layer reports them.
var (
	// ErrClientClosed: Close was called before the operation completed.
	ErrClientClosed = errors.New("client: closed")
	// ErrConnect: the connection to the peer was never established (refused,
	// unreachable, or not open within the request's timeout), so the request
	// was never written and the peer cannot have acted on it.
	ErrConnect = errors.New("client: connection not established")
	// ErrTooManyPending: a connection already holds MaxPendingPerConn
	// requests awaiting an answer or the connection's opening. Nothing was
	// written.
	ErrTooManyPending = errors.New("client: too many pending requests")
	// ErrNoRoute: no name server answered with a route for the topic, or the
	// route has no queue usable for the operation (no writable queue with a
	// master for a send).
	ErrNoRoute = errors.New("client: no route")
	// ErrTopicNotExist: a name server answered TOPIC_NOT_EXIST (17).
	ErrTopicNotExist = errors.New("client: topic does not exist")
	// ErrNoBroker: no known route names an address for the broker.
	ErrNoBroker = errors.New("client: broker address unknown")
	// ErrOffsetNotFound: QUERY_CONSUMER_OFFSET answered QUERY_NOT_FOUND
	// (22): the group has committed nothing for the queue.
	ErrOffsetNotFound = errors.New("client: no committed offset")
	// ErrBadMessage: a message cannot be sent as given (bad topic, empty
	// or oversized body, bad property). Nothing was written.
	ErrBadMessage = errors.New("client: bad message")
	// ErrBadResponse: a response lacks a field it must carry, or carries
	// one that does not parse, or its body does not decode. A PULL body
	// that fails its CRC check is reported with this error wrapping
	// message.ErrBadCRC; nothing of such a body is ever delivered.
	ErrBadResponse = errors.New("client: bad response")
)

// ResponseError is a request the peer answered with a code other than the
// ones the operation treats as success. The peer acted on the request only as
// far as the code says: for a send, a code other than SUCCESS,
// FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE means the
// message was not stored.
type ResponseError struct {
	Request remoting.RequestCode
	Code    remoting.ResponseCode
	Remark  string
	Addr    string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("client: %s to %s answered %s (%d): %s", e.Request, e.Addr, e.Code, int32(e.Code), e.Remark)
}

// Is lets errors.Is(err, ErrTopicNotExist) and errors.Is(err,
// ErrOffsetNotFound) match the answers that mean them.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrTopicNotExist:
		return e.Code == remoting.TopicNotExist
	case ErrOffsetNotFound:
		return e.Code == remoting.QueryNotFound
	}
	return false
}

func responseError(req *remoting.Command, resp *remoting.Command, addr string) *ResponseError {
	return &ResponseError{
		Request: remoting.RequestCode(req.Code),
		Code:    remoting.ResponseCode(resp.Code),
		Remark:  resp.Remark,
		Addr:    addr,
	}
}

// IsCorruptRecord reports whether err says a pull body held a record that
// failed verification (framing, magic or body CRC): a broker served bytes
// it must not have.
func IsCorruptRecord(err error) bool {
	if !errors.Is(err, ErrBadResponse) {
		return false
	}
	for _, e := range []error{message.ErrBadCRC, message.ErrBadSize, message.ErrBadMagic, message.ErrShortBuffer, message.ErrBadHost, message.ErrNoRecord, message.ErrBlank} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
