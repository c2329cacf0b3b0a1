package remoting

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestFieldsGetSetAdd(t *testing.T) {
	var f Fields
	f.Add("topic", "t1")
	f.Add("queueId", "3")
	f.Set("topic", "t2")  // replaces
	f.Set("offset", "9")  // appends
	f.Add("queueId", "4") // a duplicate, as a peer may send
	f.Set("queueId", "5") // replaces the last occurrence, the one Get sees
	want := Fields{{"topic", "t2"}, {"queueId", "3"}, {"offset", "9"}, {"queueId", "5"}}
	if len(f) != len(want) {
		t.Fatalf("fields %v, want %v", f, want)
	}
	for i := range want {
		if f[i] != want[i] {
			t.Fatalf("fields %v, want %v", f, want)
		}
	}
	if v, ok := f.Get("queueId"); !ok || v != "5" {
		t.Fatalf("Get(queueId) = %q, %v", v, ok)
	}
	if v, ok := f.Get("missing"); ok || v != "" {
		t.Fatalf("Get(missing) = %q, %v", v, ok)
	}
	if f.Str("offset") != "9" || f.Str("missing") != "" || !f.Has("topic") || f.Has("x") {
		t.Fatal("Str/Has disagree with Get")
	}
}

func TestFieldsTyped(t *testing.T) {
	f := Fields{
		{"i", "42"}, {"neg", "-7"}, {"plus", "+7"}, {"big", "9223372036854775807"},
		{"over32", "2147483648"}, {"space", " 1"}, {"float", "1.5"}, {"empty", ""},
		{"t", "true"}, {"T", "TRUE"}, {"f", "False"}, {"one", "1"},
		{"long", strings.Repeat("9", 100)},
	}
	int64s := []struct {
		key  string
		want int64
		err  error
	}{
		{"i", 42, nil}, {"neg", -7, nil}, {"plus", 7, nil}, {"big", 1<<63 - 1, nil},
		{"space", 0, ErrFieldSyntax}, {"float", 0, ErrFieldSyntax}, {"empty", 0, ErrFieldSyntax},
		{"missing", 0, ErrFieldMissing},
	}
	for _, tt := range int64s {
		v, err := f.Int64(tt.key)
		if v != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("Int64(%q) = %d, %v; want %d, %v", tt.key, v, err, tt.want, tt.err)
		}
	}
	int32s := []struct {
		key  string
		want int32
		err  error
	}{
		{"i", 42, nil}, {"neg", -7, nil}, {"over32", 0, ErrFieldSyntax}, {"missing", 0, ErrFieldMissing},
	}
	for _, tt := range int32s {
		v, err := f.Int32(tt.key)
		if v != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("Int32(%q) = %d, %v; want %d, %v", tt.key, v, err, tt.want, tt.err)
		}
	}
	bools := []struct {
		key  string
		want bool
		err  error
	}{
		{"t", true, nil}, {"T", true, nil}, {"f", false, nil}, {"one", false, ErrFieldSyntax},
		{"empty", false, ErrFieldSyntax}, {"missing", false, ErrFieldMissing},
	}
	for _, tt := range bools {
		v, err := f.Bool(tt.key)
		if v != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("Bool(%q) = %v, %v; want %v, %v", tt.key, v, err, tt.want, tt.err)
		}
	}

	messages := []struct {
		err  error
		want string
	}{
		{func() error { _, err := f.Int64("missing"); return err }(), `remoting: ext field "missing" missing`},
		{func() error { _, err := f.Int32("over32"); return err }(), `remoting: ext field "over32" = "2147483648": not a valid int32`},
		{func() error { _, err := f.Int64("long"); return err }(),
			`remoting: ext field "long" = "` + strings.Repeat("9", 64) + `...": not a valid int64`},
	}
	for _, tt := range messages {
		if tt.err.Error() != tt.want {
			t.Errorf("message %q, want %q", tt.err, tt.want)
		}
	}
}

func TestFieldConstructors(t *testing.T) {
	c := NewRequest(PullMessage, StrField("topic", "t"), IntField("queueOffset", -3), BoolField("order", true))
	want := Fields{{"topic", "t"}, {"queueOffset", "-3"}, {"order", "true"}}
	if len(c.ExtFields) != 3 || c.ExtFields[0] != want[0] || c.ExtFields[1] != want[1] || c.ExtFields[2] != want[2] {
		t.Fatalf("fields %v, want %v", c.ExtFields, want)
	}
	if c.Code != 11 || c.Language != DefaultLanguage || c.Version != DefaultVersion || c.Serialize != SerializeJSON || c.Flag != 0 {
		t.Fatalf("request %+v", c)
	}
}

func TestNewResponse(t *testing.T) {
	req := &Command{Code: int32(PullMessage), Language: LanguageGo, Version: 317, Opaque: 99, Flag: 0, Serialize: SerializeRocketMQ}
	resp := NewResponse(req, PullNotFound, "no msg")
	if resp.Opaque != 99 || !resp.IsResponse() || resp.IsOneway() || resp.Serialize != SerializeRocketMQ ||
		resp.Code != int32(PullNotFound) || resp.Remark != "no msg" || resp.Language != LanguageJava || resp.Version != 479 {
		t.Fatalf("response %+v", resp)
	}
}

func TestCommandString(t *testing.T) {
	c := &Command{Code: int32(PullNotFound), Opaque: 7, Flag: FlagResponse, Remark: "none",
		ExtFields: Fields{{"nextBeginOffset", "12"}}, Body: []byte("abc")}
	const want = `PULL_NOT_FOUND opaque=7 flag=1 remark="none" nextBeginOffset="12" body=3B`
	if got := c.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := NewRequest(SendMessageV2).String(); got != "SEND_MESSAGE_V2 opaque=0 flag=0" {
		t.Fatalf("String() = %q", got)
	}
}

func TestCodeNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{SendMessage.String(), "SEND_MESSAGE"},
		{PullMessage.String(), "PULL_MESSAGE"},
		{GetRouteinfoByTopic.String(), "GET_ROUTEINFO_BY_TOPIC"},
		{GetAllSubscriptionGroupConfig.String(), "GET_ALL_SUBSCRIPTIONGROUP_CONFIG"},
		{RequestCode(9999).String(), "RequestCode(9999)"},
		{Success.String(), "SUCCESS"},
		{PullNotFound.String(), "PULL_NOT_FOUND"},
		{RequestCodeNotSupported.String(), "REQUEST_CODE_NOT_SUPPORTED"},
		{RPCTimeOut.String(), "RPC_TIME_OUT"},
		{ResponseCode(77).String(), "ResponseCode(77)"},
		{LanguageGo.String(), "GO"},
		{LanguageNodeJS.String(), "NODE_JS"},
		{LanguageCode(14).String(), "LanguageCode(14)"},
		{SerializeJSON.String(), "JSON"},
		{SerializeRocketMQ.String(), "ROCKETMQ"},
		{SerializeType(5).String(), "SerializeType(5)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for code := LanguageJava; code <= LanguageNodeJS; code++ {
		if got, ok := ParseLanguage(code.String()); !ok || got != code {
			t.Errorf("ParseLanguage(%q) = %v, %v", code, got, ok)
		}
	}
	if _, ok := ParseLanguage("go"); ok {
		t.Error("ParseLanguage is case-sensitive, as Java's valueOf")
	}
}

// The package documentation's tables list every code with its number, so
// that they cannot drift from the constants.
func TestDocListsEveryCode(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^//\t\s*(-?\d+)  ([A-Z0-9_]+)`)
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		listed[m[2]] = m[1]
	}
	for code, name := range requestCodeNames {
		if listed[name] != strconv.Itoa(int(code)) {
			t.Errorf("doc.go lists %s as %q, want %d", name, listed[name], code)
		}
	}
	for code, name := range responseCodeNames {
		if listed[name] != strconv.Itoa(int(code)) {
			t.Errorf("doc.go lists %s as %q, want %d", name, listed[name], code)
		}
	}
	if want := len(requestCodeNames) + len(responseCodeNames); len(listed) != want {
		t.Errorf("doc.go lists %d codes, want %d", len(listed), want)
	}
}
