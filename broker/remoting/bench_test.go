package remoting

import (
	"testing"
)

// goSendHeader is a SEND_MESSAGE header as the Go producer writes it, with
// the message properties' 0x01/0x02 separators escaped.
const goSendHeader = `{"code":10,"language":"GO","version":317,"opaque":1234,"flag":0,"remark":"",` +
	`"extFields":{"producerGroup":"please_rename_unique_group_name","topic":"TopicTest","queueId":"3",` +
	`"sysFlag":"0","bornTimestamp":"1735689600123","flag":"0","reconsumeTimes":"0","unitMode":"false",` +
	`"maxReconsumeTimes":"0","defaultTopic":"TBW102","defaultTopicQueueNums":"4","batch":"false",` +
	`"properties":"KEYS\u0001order-00042\u0002TAGS\u0001TagA\u0002UNIQ_KEY\u00010A0000010B2C18B4AAC2516F0E2A0000\u0002WAIT\u0001true\u0002",` +
	`"bname":"broker-a"}}`

func BenchmarkDecodeSendHeader(b *testing.B) {
	frame := frameOf(SerializeJSON, []byte(goSendHeader), make([]byte, 128))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := DecodeFrame(frame)
		if err != nil || len(c.ExtFields) != 14 {
			b.Fatal(c, err)
		}
	}
}

func BenchmarkDecodeSendHeaderBinary(b *testing.B) {
	c, err := DecodeFrame(frameOf(SerializeJSON, []byte(goSendHeader), make([]byte, 128)))
	if err != nil {
		b.Fatal(err)
	}
	c.Serialize = SerializeRocketMQ
	frame, err := AppendFrame(nil, c)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func sendResponse() *Command {
	req := &Command{Code: int32(SendMessage), Opaque: 1234}
	resp := NewResponse(req, Success, "")
	resp.ExtFields = Fields{
		{"msgId", "0A00000100002A9F00000000000A1B2C"},
		{"queueId", "3"},
		{"queueOffset", "1048576"},
		{"transactionId", "0A0000010B2C18B4AAC2516F0E2A0000"},
		{"MSG_REGION", "DefaultRegion"},
		{"TRACE_ON", "true"},
	}
	return resp
}

// BenchmarkEncodeResponse encodes a SEND response into a fresh buffer, as
// Channel.Respond does (the connection keeps each frame it is given).
func BenchmarkEncodeResponse(b *testing.B) {
	resp := sendResponse()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendFrame(nil, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeResponseReuse encodes into a reused buffer: the cost of
// the encoder alone.
func BenchmarkEncodeResponseReuse(b *testing.B) {
	resp := sendResponse()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendFrame(buf[:0], resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChannelRequestResponse is one request through a Channel: decode,
// dispatch, respond, encode, write.
func BenchmarkChannelRequestResponse(b *testing.B) {
	frame := frameOf(SerializeJSON, []byte(goSendHeader), make([]byte, 128))
	d := NewDispatcher()
	d.Handle(SendMessage, func(ch *Channel, req *Command) {
		resp := sendResponse()
		ch.Respond(req, resp)
	})
	conn := &fakeConn{id: 1}
	ch, _ := newTestChannel(d, conn, Options{})
	b.ReportAllocs()
	for b.Loop() {
		ch.receive(Framer{}.Decode(frame))
		conn.written = conn.written[:0]
	}
}
