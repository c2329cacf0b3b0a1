package message_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/thrustmq/thrust/broker/message"
)

// The store's append path: size the record, write a blank and roll over if
// it does not fit with room for a blank, encode in place, then read the
// segment back the way recovery does.
func Example() {
	seg := make([]byte, 256) // a (tiny) mapped commit-log segment
	pos := 0
	born := netip.MustParseAddrPort("192.168.0.10:50000")
	store := netip.MustParseAddrPort("10.0.0.1:10911")

	props, _ := message.AppendProperties(nil, message.Properties{
		{Key: message.PropertyTags, Value: "TagA"},
	})
	for i := range 3 {
		r := message.Record{
			QueueID:        0,
			QueueOffset:    int64(i),
			PhysicalOffset: int64(pos),
			SysFlag:        message.HostFlags(born, store),
			BornHost:       born,
			StoreHost:      store,
			Body:           []byte("hello, world"),
			Topic:          "TopicTest",
			Properties:     props,
		}
		size := message.EncodedSize(len(r.Body), len(r.Topic), len(r.Properties), r.SysFlag)
		if len(seg)-pos < size+message.BlankSize {
			if _, err := message.EncodeBlank(seg[pos:]); err != nil {
				panic(err)
			}
			fmt.Println("segment full after", i, "records")
			break
		}
		n, err := message.Encode(seg[pos:pos+size], &r)
		if err != nil {
			panic(err)
		}
		fmt.Println("msgId", message.OffsetMsgID(store, int64(pos)))
		pos += n
	}

	for p := 0; ; {
		r, n, err := message.Decode(seg[p:])
		if errors.Is(err, message.ErrBlank) {
			fmt.Println("blank of", n, "bytes at", p)
			break
		}
		if err != nil {
			panic(err)
		}
		tags, _ := r.Property(message.PropertyTags)
		fmt.Println(r.PhysicalOffset, r.QueueOffset, r.Topic, tags, message.TagsHashCode(tags))
		p += n
	}
	// Output:
	// msgId 0A00000100002A9F0000000000000000
	// msgId 0A00000100002A9F000000000000007A
	// segment full after 2 records
	// 0 0 TopicTest TagA 2598919
	// 122 1 TopicTest TagA 2598919
	// blank of 12 bytes at 244
}
